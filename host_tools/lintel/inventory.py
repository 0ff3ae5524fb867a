"""`lintel inventory`, and the inventory itself: the panels this computer provisioned.

One JSON file per panel under $LINTEL_HOME/panels/ (default ~/.local/share/lintel), holding its
key: the folder is 0700 and each file 0600, written atomically. docs/technicians.md.
"""

import json
import os
import tempfile
import time
from pathlib import Path

from lintel.errors import LintelError


def home() -> Path:
    return Path(os.environ.get("LINTEL_HOME") or Path.home() / ".local" / "share" / "lintel")


def _panels_dir() -> Path:
    folder = home() / "panels"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(home(), 0o700)
        os.chmod(folder, 0o700)
    except OSError as e:
        raise LintelError(f"cannot use the inventory at {folder}: {e.strerror}") from None
    return folder


def _path(device: str) -> Path:
    if len(device) != 12 or any(c not in "0123456789abcdef" for c in device):
        raise LintelError(f"{device!r} is not a panel id (12 lowercase hex digits)")
    return _panels_dir() / f"{device}.json"


def get(device: str) -> dict | None:
    path = _path(device)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise LintelError(f"inventory file {path} is unreadable ({e}); remove it and provision "
                          f"the panel again") from None


def put(record: dict) -> None:
    path = _path(record["device"])
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # created 0600
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise LintelError(f"cannot write the inventory file {path}: {e.strerror}") from None


def key_of(device: str) -> tuple[bytes, bytes]:
    record = get(device)
    if record is None or not record.get("key"):
        raise LintelError(f"panel {device} is not in this computer's inventory ({home()}): "
                          f"run `lintel provision --port PORT` for it first")
    return bytes.fromhex(record["key"]), bytes.fromhex(record["key_id"])


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def records() -> list[dict]:
    out = []
    for path in sorted(_panels_dir().glob("*.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            out.append({"device": path.stem, "problem": "unreadable"})
    return out


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="print the records as JSON, keys left out")


def run(args) -> int:
    rows = records()
    public = [{k: v for k, v in r.items() if k != "key"} for r in rows]
    if args.json:
        print(json.dumps(public, indent=2))
        return 0
    if not rows:
        print(f"no panels provisioned yet (inventory: {home()})")
        return 0
    print(f"{'panel':<13} {'board':<14} {'key id':<17} {'room':<40} last push")
    for r in public:
        push = r.get("last_push") or {}
        print(f"{r['device']:<13} {r.get('board', '?'):<14} {r.get('key_id', '?'):<17} "
              f"{push.get('room', '-'):<40} {push.get('at', 'never')}")
    return 0
