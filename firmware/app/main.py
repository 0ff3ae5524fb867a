# The room application's wake: say who we are, find the configuration, act, sleep.
import json

from app.version import VERSION

CONFIG_FILE = "/config.sealed"
NOT_CONFIGURED_RETRY_MS = 15 * 60 * 1000  # look for a pushed configuration every 15 minutes


def _wakes(board):
    # Count wakes in RTC memory: kept across deep sleep, cleared by a power cycle.
    try:
        state = json.loads(board.rtc_memory() or b"{}")
    except ValueError:
        state = {}
    state["wakes"] = state.get("wakes", 0) + 1
    board.rtc_memory(json.dumps(state).encode())
    return state["wakes"]


def run(board):
    wake = _wakes(board)
    print("Lintel %s | board %s | device %s | %s, wake %d" % (
        VERSION, board.name, board.device_id, board.reset_cause(), wake))
    while not board.exists(CONFIG_FILE):
        print("state: not configured | device %s has no configuration; push one with "
              "`lintel config push panel.toml --port PORT`" % board.device_id)
        board.sleep(NOT_CONFIGURED_RETRY_MS)
    print("state: configuration found")
