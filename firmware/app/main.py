# The room application's wake: say who we are, open the configuration, act, sleep.
import json

from app import config
from app.version import VERSION

NOT_CONFIGURED_RETRY_MS = 15 * 60 * 1000  # look for a pushed configuration every 15 minutes
DEFAULT_REFRESH_MIN = 5


def _wakes(board):
    # Count wakes in RTC memory: kept across deep sleep, cleared by a power cycle.
    try:
        state = json.loads(board.rtc_memory() or b"{}")
    except ValueError:
        state = {}
    state["wakes"] = state.get("wakes", 0) + 1
    board.rtc_memory(json.dumps(state).encode())
    return state["wakes"]


def _load(board):
    """The configuration to run with, or None after saying on the console why there is none."""
    data = board.read_file(config.CONFIG_FILE)
    if data is None:
        print("state: not configured | device %s has no configuration; push one with "
              "`lintel config push panel.toml --port PORT`" % board.device_id)
        return None
    try:
        doc = config.open_config(data, board.device_key())
    except config.Refused as e:
        print("state: configuration unusable (%s) | %s" % (e.reason, e.message))
        return None
    refusal = board.read_file(config.REFUSAL_FILE)
    if refusal:
        try:
            refusal = json.loads(refusal)["message"]
        except (ValueError, KeyError):
            refusal = "unreadable refusal record"
        print("note: the last configuration pushed was refused: %s; running the previous one"
              % refusal)
    return doc


def run(board):
    wake = _wakes(board)
    print("Lintel %s | board %s | device %s | %s, wake %d" % (
        VERSION, board.name, board.device_id, board.reset_cause(), wake))
    board.mount_cfg()
    doc = _load(board)
    while doc is None:
        board.sleep(NOT_CONFIGURED_RETRY_MS)
        doc = _load(board)
    print("state: configured | " + config.describe(doc))
    # Reaching the room's calendar arrives with the backends (issues 4 and 7).
    refresh_min = doc.get("schedule", {}).get("refresh_min", DEFAULT_REFRESH_MIN)
    while True:
        board.sleep(refresh_min * 60 * 1000)
