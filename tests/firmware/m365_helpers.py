# Shared by the test_m365_* modules: the fake tenant conftest started (LINTEL_TENANT_TEST names
# its base URL and CA file), its admin API, and the board of the firmware tests.
import json
import os

from http_helpers import raises  # noqa: F401 -- for the test_m365 modules

import hardware
from app import entra, http

_cfg = None
SERVICE_ACCOUNT = "lintel.panels@contoso.onmicrosoft.com"


def cfg():
    global _cfg
    if _cfg is None:
        with open(os.getenv("LINTEL_TENANT_TEST")) as f:
            _cfg = json.load(f)
        with open(_cfg["ca"]) as f:
            _cfg["ca_pem"] = f.read()
    return _cfg


def backend(**changes):
    doc = {"type": "graph", "tenant": cfg()["tenant"],
           "client_id": "00000000-0000-0000-0000-0000000000a1",
           "scopes": ["offline_access", "Calendars.ReadWrite.Shared", "Mail.Send",
                      "Place.Read.All", "User.ReadBasic.All"],
           "authority_host": cfg()["base_url"], "graph_host": cfg()["base_url"]}
    doc.update(changes)
    return doc


def session():
    return http.Session(cadata=cfg()["ca_pem"], timeout=(10, 10))


def admin(method, path, body=None):
    with session() as s:
        r = s.request(method, cfg()["base_url"] + "/_admin/" + path, json=body)
        assert r.status_code < 300, "admin %s %s: %d %s" % (method, path, r.status_code, r.text)
        return r.json() if r.content else None





def signed_in(s, client=None):
    """A full device-code sign-in: (the Entra client, the tokens)."""
    client = client or entra.Entra(s, backend())
    code = client.start()
    admin("POST", "device/approve", {"user_code": code.user_code})
    return client, client.poll(code)


class TestBoard(hardware.Board):
    # The real board code (NVS, the cfg partition on the emulated flash); only the board file
    # comes from the source tree, as the runner has no image mounted at /.
    def __init__(self):
        with open(os.getenv("LINTEL_TEST_BOARD_JSON")) as f:
            self.info = json.load(f)
        self.name = self.info["name"]
        self.device_id = "7cdfa1000001"
        self.battery_powered = True
