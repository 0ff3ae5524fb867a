# What the lintel host tools call on the panel over the raw REPL (lintel provision, config push,
# flash --app-only). Each call prints one JSON line, the host's answer; nothing secret is printed.
import hashlib
import json
import os
import sys

import hardware
from app import clock, config
from app.version import VERSION


def _reply(doc):
    print(json.dumps(doc))


def _board():
    board = hardware.Board()
    board.mount_cfg()
    return board


def open_storage():
    """Mount /cfg, so the host can write a file there (after a soft reset, main.py has not)."""
    _board()
    _reply({"result": "ok"})


def info():
    board = _board()
    key = board.device_key()
    mpy = sys.implementation._mpy
    _reply({
        "device": board.device_id, "board": board.name, "lintel": VERSION,
        "micropython": "%d.%d.%d" % sys.implementation.version[:3],
        "mpy_version": mpy & 0xFF, "mpy_sub_version": (mpy >> 8) & 3,
        "key_id": key[1].hex() if key else None,
        "romfs": list(board.partition("romfs")),
        "vfs": list(board.partition("vfs")),
        "configured": board.read_file(config.CONFIG_FILE) is not None,
    })


def provision(key_hex, key_id_hex, replace=False):
    board = _board()
    existing = board.device_key()
    if existing is not None and not replace:
        _reply({"result": "refused", "reason": "has_key", "key_id": existing[1].hex()})
        return
    key, key_id = bytes.fromhex(key_hex), bytes.fromhex(key_id_hex)
    if len(key) != 32 or len(key_id) != 8:
        _reply({"result": "refused", "reason": "bad_key"})
        return
    board.store_device_key(key, key_id)
    stored = board.device_key()
    ok = stored is not None and stored[1] == key_id
    _reply({"result": "ok" if ok else "refused", "reason": None if ok else "not_stored",
            "key_id": key_id.hex()})


def set_clock_if_lost(host_time):
    """Set the panel's clock from the host's (Unix seconds) if it has lost its time, as a new
    panel or one after a power cut has: its first TLS handshake checks certificate dates. A
    clock that runs is kept (the app keeps it right from the servers' Date headers)."""
    if not clock.lost():
        _reply({"result": "kept", "panel_time": clock.now()})
        return
    hardware.Board().set_clock(host_time)
    _reply({"result": "set", "panel_time": clock.now()})


def install_config(tmp_path, sha256_hex):
    """Check a pushed file, then make it the configuration by an atomic rename.

    The old configuration stays in place until the rename, and a refused file never replaces it;
    LittleFS renames atomically, so a power cut leaves the old file or the new one.
    """
    board = _board()
    data = board.read_file(tmp_path)
    try:
        if data is None or hashlib.sha256(data).digest().hex() != sha256_hex:
            raise config.Refused("damaged_transfer",
                                 "the file arrived damaged (its hash differs): push again")
        doc = config.open_config(data, board.device_key())
    except config.Refused as e:
        _remove(tmp_path)
        with open(config.REFUSAL_FILE, "w") as f:
            json.dump({"reason": e.reason, "message": e.message}, f)
        _reply({"result": "refused", "reason": e.reason, "message": e.message})
        return
    os.rename(tmp_path, config.CONFIG_FILE)
    _remove(config.REFUSAL_FILE)
    _reply({"result": "ok", "summary": config.describe(doc)})


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
