# The panel's configuration: a sealed JSON document (docs/config.md, "what the panel receives";
# docs/sealed-config.md), opened with this panel's key. Pure: bytes in, a dict or a refusal out.
import json

from app import seal

CONFIG_FILE = "/cfg/config.sealed"
REFUSAL_FILE = "/cfg/config.refused"  # why the last push was refused, for the screen
FORMAT = 1


class Refused(Exception):
    """A configuration the panel will not use; reason is a short code, message has words."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


def open_config(data, device_key):
    """The configuration in sealed bytes; device_key is the board's (key, key id) or None."""
    if device_key is None:
        raise Refused("not_provisioned",
                      "this panel has no key yet: run lintel provision, then push again")
    key, key_id = device_key
    try:
        plain = seal.open_sealed(key, key_id, seal.KIND_CONFIG, data)
    except seal.SealError as e:
        raise Refused(e.reason, str(e)) from None
    try:
        doc = json.loads(plain)
    except ValueError:
        raise Refused("malformed", "the configuration is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise Refused("unknown_format",
                      "configuration format %r; this firmware reads format %d: update the panel"
                      % (doc.get("format") if isinstance(doc, dict) else None, FORMAT))
    for section in ("wifi", "backend", "room"):
        if not isinstance(doc.get(section), dict):
            raise Refused("malformed", "the configuration has no %s section" % section)
    return doc


def describe(doc):
    """One line for the console: what this panel is configured as, without a secret."""
    room = doc["room"]
    mailbox = room.get("mailbox", room)
    name = mailbox.get("name") or mailbox.get("address", "?")
    return "room %s <%s> | backend %s | wifi %s" % (
        name, mailbox.get("address", "?"), doc["backend"].get("type", "?"),
        doc["wifi"].get("ssid", "?"))
