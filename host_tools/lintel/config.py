"""`lintel config check|seal|push`: a technician's panel.toml, checked, sealed and delivered.

push: validate and resolve the file, seal it with the panel's key (docs/sealed-config.md), write
it to a temporary file on the panel over the raw REPL, and let the panel check its hash and
open it before an atomic rename makes it the configuration (firmware/service.py). A power cut
at any point leaves the old configuration or the new one.
"""

import hashlib
import sys
import time
from pathlib import Path

from lintel import configfile, inventory, seal
from lintel.errors import LintelError
from lintel.link import PanelLink, find_port

PANEL_TMP = "/cfg/config.sealed.tmp"


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate a panel.toml offline")
    check.add_argument("file", type=Path)
    sealp = sub.add_parser("seal", help="seal a panel.toml for one panel, to push later")
    sealp.add_argument("file", type=Path)
    sealp.add_argument("--device", required=True, help="the panel id (lintel inventory)")
    sealp.add_argument("--out", required=True, type=Path)
    push = sub.add_parser("push", help="seal a panel.toml for a panel and install it there")
    push.add_argument("file", type=Path, help="a panel.toml, or a file made by `config seal`")
    push.add_argument("--port", help="the panel's serial port (default: the only panel on USB)")
    push.add_argument("--no-restart", action="store_true",
                      help="leave the panel in its REPL instead of restarting it")


def run(args) -> int:
    if args.action == "check":
        return _check(args.file)
    if args.action == "seal":
        sealed, _ = seal_for(configfile.load(args.file), args.device.lower())
        args.out.write_bytes(sealed)
        print(f"sealed {args.file} for panel {args.device}: {args.out} ({len(sealed)} bytes)")
        return 0
    return _push(args)


def _check(path: Path) -> int:
    try:
        config = configfile.load(path)
    except configfile.ConfigErrors as e:
        for problem in e.problems:
            print(problem.format(str(path)), file=sys.stderr)
        return 1
    for warning in config.warnings:
        print(f"warning: {warning.format(str(path))}", file=sys.stderr)
    print(f"{path}: ok")
    return 0


def seal_for(config: configfile.Config, device: str) -> tuple[bytes, dict]:
    """The configuration resolved and sealed for one panel; and the resolved document."""
    configfile.check_device(config, device)
    key, key_id = inventory.key_of(device)
    document = configfile.resolve(config)
    return seal.seal(key, key_id, seal.KIND_CONFIG, configfile.encode(document)), document


def push(panel: PanelLink, sealed: bytes, progress=None) -> dict:
    """Deliver sealed bytes and have the panel install them; return the panel's answer."""
    panel.call("open_storage")
    # A new panel's clock starts at 2000; its first TLS handshake needs the date.
    panel.call("set_clock_if_lost", int(time.time()))
    panel.write_file(PANEL_TMP, sealed, progress)
    return panel.call("install_config", PANEL_TMP, hashlib.sha256(sealed).hexdigest())


def _push(args) -> int:
    raw = _read(args.file)
    # A panel.toml is checked whole before any panel is touched; a sealed file goes as it is.
    config = None if raw.startswith(seal.MAGIC) else configfile.load(args.file)
    port = find_port(args.port)
    with PanelLink(port) as panel:
        info = panel.call("info")
        device = info["device"]
        if not info["key_id"]:
            raise LintelError(f"panel {device} has no key yet: run `lintel provision` first")
        room = "?"
        sealed = raw
        if config is not None:
            sealed, document = seal_for(config, device)
            mailbox = document["room"]["mailbox"]
            room = mailbox["name"] or mailbox["address"]
        answer = push(panel, sealed)
        if answer.get("result") != "ok":
            raise LintelError(f"panel {device} refused the configuration: "
                              f"{answer.get('message')}")
        record = inventory.get(device) or {"device": device}
        record["last_push"] = {"at": inventory.now(), "file": str(args.file),
                               "room": room,
                               "sha256": hashlib.sha256(sealed).hexdigest()}
        inventory.put(record)
        if not args.no_restart:
            panel.reset()
    print(f"panel {device} accepted the configuration: {answer.get('summary')}")
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise LintelError(f"cannot read {path}: {e.strerror}") from None
