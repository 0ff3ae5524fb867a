"""`lintel provision`: give a panel its own random key, kept in its NVS and in the inventory."""

from lintel import inventory, seal
from lintel.errors import LintelError
from lintel.link import PanelLink, find_port


def add_arguments(p) -> None:
    p.add_argument("--port", help="the panel's serial port (default: the only panel on USB)")
    p.add_argument("--replace", action="store_true",
                   help="give a panel that already has a key a new one (its configuration "
                        "must then be pushed again)")


def run(args) -> int:
    port = find_port(args.port)
    with PanelLink(port) as panel:
        info = panel.call("info")
        device = info["device"]
        record = inventory.get(device) or {}
        if info["key_id"] and not args.replace:
            if record.get("key_id") == info["key_id"]:
                print(f"panel {device} is already provisioned (key id {info['key_id']}); "
                      f"nothing to do")
                return 0
            known = (f"differs from this computer's inventory (key id {record['key_id']})"
                     if record else "is not in this computer's inventory")
            raise LintelError(f"panel {device} already has a key (key id {info['key_id']}) that "
                              f"{known}; --replace gives it a new one")
        key, key_id = seal.new_key()
        # The inventory holds the new key before the panel does: a failure in between leaves
        # a record to retry with, never a panel whose key nobody knows.
        record.update({"device": device, "board": info["board"], "key": key.hex(),
                       "key_id": key_id.hex(), "provisioned": inventory.now(),
                       "state": "provisioning"})
        inventory.put(record)
        answer = panel.call("provision", key.hex(), key_id.hex(), True)
        if answer.get("result") != "ok":
            raise LintelError(f"panel {device} did not store its key ({answer.get('reason')})")
        record["state"] = "provisioned"
        inventory.put(record)
    print(f"provisioned panel {device} ({info['board']}): key id {key_id.hex()}, "
          f"kept in {inventory.home()}")
    return 0
