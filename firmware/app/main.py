# The room application's wake: say who we are, open the configuration, act, sleep.
import json
import sys
import time

from app import clock, config
from app.version import VERSION

NOT_CONFIGURED_RETRY_MS = 15 * 60 * 1000  # look for a pushed configuration every 15 minutes


def _memory(board):
    # What one wake tells the next, in RTC memory: kept across deep sleep, cleared by a power
    # cycle. The wake count, and the check-ins and the digest of the screen of the wake module.
    try:
        memory = json.loads(board.rtc_memory() or b"{}")
    except ValueError:
        memory = {}
    memory["wakes"] = memory.get("wakes", 0) + 1
    board.rtc_memory(json.dumps(memory).encode())
    return memory


def _load(board):
    """The configuration to run with, or None after saying on the console why there is none."""
    data = board.read_file(config.CONFIG_FILE)
    if data is None:
        print("state: not configured | device %s has no configuration; push one with "
              "`lintel config push panel.toml --port PORT`" % board.device_id)
        _show_setup(board, "not_configured", "This panel has no configuration yet.")
        return None
    try:
        doc = config.open_config(data, board.device_key())
    except config.Refused as e:
        print("state: configuration unusable (%s) | %s" % (e.reason, e.message))
        _show_setup(board, e.reason, e.message)
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


def _show_setup(board, reason, words):
    # The screen of a panel that cannot run a room yet: its id, so a technician can find its
    # panel.toml, and what to do (docs/view-model.md, "setup").
    board.show(json.dumps({
        "screen": "setup", "device": board.device_id, "version": VERSION, "reason": reason,
        "words": words, "action": "Push a configuration: lintel config push panel.toml"}).encode())


def _banner(board, memory, cause):
    # The first line of every wake: what a technician and the benchmarks look for.
    print("Lintel %s | board %s | device %s | %s, wake %d | %s" % (
        VERSION, board.name, board.device_id, cause, memory["wakes"],
        clock.format_iso_z(clock.now())))


def run(board, started=None):
    """The panel's life from this boot: wakes and sleeps. `started`: ticks_ms when main.py
    began (the wake's report counts from there), else now."""
    if started is None:
        started = time.ticks_ms()
    memory = _memory(board)
    _banner(board, memory, board.reset_cause())
    board.mount_cfg()
    doc = _load(board)
    while doc is None:
        # The setup screen replaced whatever the wake showed last: the next room view must be
        # drawn even if it equals that one (app.wake, Wake._show).
        if memory.pop("shown", None) is not None:
            board.rtc_memory(json.dumps(memory).encode())
        board.sleep(NOT_CONFIGURED_RETRY_MS)
        doc = _load(board)
    print("state: configured | " + config.describe(doc))
    from app import power, wake

    while True:
        w = wake.Wake(board, doc, memory)
        try:
            seconds = w.run()
        except Exception as e:  # noqa: BLE001 -- a bug must not leave a panel at the REPL
            print("problem: internal | the panel hit an error it does not know; it starts "
                  "again in %d s" % wake.RETRY_S)
            sys.print_exception(e)
            seconds = wake.RETRY_S
        # When the next wake is due (listening included): Wake._between_reads believes a timer
        # wake only if the clock says it came then.
        memory["wake_at"] = clock.now() + seconds
        board.rtc_memory(json.dumps(memory).encode())
        wake.report(w, started)
        if board.battery_powered and (w.attended or board.woken_by_button()):
            # Someone is at the door, and the touch controller is off in deep sleep: stay
            # awake for their next tap (power.listen_s); one wakes the panel at once.
            listen = min(seconds, power.listen_s(doc))
            heard = board.listen(listen * 1000) if listen > 0 else None  # "tap", "button"
            seconds -= listen
            if heard or seconds <= 0:  # (and deepsleep(0) would never end)
                memory["wakes"] += 1
                _banner(board, memory, heard + " while listening" if heard else
                        "after listening")
                started = time.ticks_ms()
                continue
        board.sleep(seconds * 1000)
        started = time.ticks_ms()
