"""panel.toml: every key's validation names the key and its line, all problems at once; the
resolved document; secrets; `Name <address>` parsing; the key-to-line scanner."""

import argparse
import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lintel import configfile as cf
from lintel.emulator import cli as emulator_cli
from lintel.errors import LintelError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "panel.toml"

BASE = """\
[wifi]
ssid = "lintel-lab"
psk = "not-a-real-psk"

[backend]
type = "graph"
tenant = "contoso.example"
client_id = "00000000-0000-0000-0000-000000000000"

[room]
mailbox = "Boardroom 4.12 <room-4.12@contoso.example>"

[locale]
timezone = "Europe/Amsterdam"
"""
NEXT = BASE.count("\n") + 1  # the line appended text starts on


def variant(replace: dict | None = None, append: str = "") -> str:
    text = BASE
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    return text + append


def write(tmp_path, text: str, name="panel.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path, text: str) -> list[cf.Problem]:
    return cf.check(write(tmp_path, text))


def only(tmp_path, text: str) -> cf.Problem:
    found = problems(tmp_path, text)
    assert len(found) == 1, [p.format() for p in found]
    return found[0]


# --- the example and the happy path ------------------------------------------------------

def test_example_loads_and_resolves():
    config = cf.load(EXAMPLE)
    assert cf.check(EXAMPLE) == []
    assert config.warnings == []
    doc = cf.resolve(config)
    assert json.loads(json.dumps(doc)) == doc
    assert doc["format"] == 1
    assert doc["wifi"]["ssid"] == "lintel-lab" and doc["wifi"]["psk"] == "not-a-real-psk"
    assert doc["room"]["mailbox"] == {"address": "room-4.12@contoso.example",
                                      "name": "Boardroom 4.12"}
    assert doc["locale"]["posix_tz"] == "CET-1CEST,M3.5.0,M10.5.0/3"
    assert doc["locale"]["timezone"] == "Europe/Amsterdam"
    assert doc["backend"]["type"] == "graph"
    assert doc["backend"]["scopes"] == list(cf.DEFAULT_SCOPES)
    assert doc["schedule"]["office_hours"] == [7 * 60, 19 * 60]
    assert doc["schedule"]["office_days"] == [0, 1, 2, 3, 4]
    assert cf.secrets(config) == ["not-a-real-psk"]


def test_example_matches_the_emulators_access_point():
    parser = argparse.ArgumentParser()
    emulator_cli.add_arguments(parser)
    doc = cf.resolve(cf.load(EXAMPLE))
    assert doc["wifi"]["ssid"] == parser.get_default("ap_ssid") == "lintel-lab"
    assert doc["wifi"]["psk"] == parser.get_default("ap_psk") == "not-a-real-psk"


def test_the_example_has_no_real_looking_secrets():
    text = EXAMPLE.read_text()
    assert "not-a-real" in text
    for value in cf.secrets(cf.load(EXAMPLE)):
        assert "not-a-real" in value


def test_defaults(tmp_path):
    config = cf.load(write(tmp_path, BASE))
    doc = cf.resolve(config)
    assert doc == {
        "format": 1,
        "panel": {"name": "Boardroom 4.12", "device": None},
        "wifi": {"ssid": "lintel-lab", "psk": "not-a-real-psk", "static": None, "bssid": None,
                 "channel": None, "country": None, "hostname": None,
                 "keep_address_min": 60},
        "proxy": None,
        "backend": {"type": "graph", "tenant": "contoso.example",
                    "client_id": "00000000-0000-0000-0000-000000000000",
                    "scopes": ["offline_access", "Calendars.ReadWrite.Shared", "Mail.Send",
                               "Place.Read.All", "User.ReadBasic.All"],
                    "authority_host": "https://login.microsoftonline.com",
                    "graph_host": "https://graph.microsoft.com"},
        "room": {"mailbox": {"address": "room-4.12@contoso.example", "name": "Boardroom 4.12"},
                 "room_list": None, "alternatives": []},
        "locale": {"timezone": "Europe/Amsterdam", "posix_tz": "CET-1CEST,M3.5.0,M10.5.0/3",
                   "clock": 24, "language": "en"},
        "privacy": {"show": "subject"},
        "booking": {"allowed": True, "durations": [15, 30, 60],
                    "check_in": {"enabled": False, "window_before_min": 5,
                                 "window_after_min": 10},
                    "auto_release_min": 0},
        "service": {"recipient": None, "catering": [], "support": []},
        "schedule": {"refresh_min": 5, "office_hours": [420, 1140], "office_days": [0, 1, 2, 3, 4],
                     "full_refresh_every": 10, "low_battery_percent": 15,
                     "low_battery_refresh_min": 30, "listen_s": 30, "show_time": "mains"},
        "tls": {"extra_ca": []},
    }
    assert config.name == "Boardroom 4.12" and config.device is None
    assert config.room == cf.Mailbox("room-4.12@contoso.example", "Boardroom 4.12")
    assert config.backend == "graph"
    assert config.lines["wifi.psk"] == 3 and config.lines["locale"] == 13


def test_everything_set(tmp_path, ca_pem):
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "root.pem").write_text("issued by the lab\n" + ca_pem)
    text = variant({'psk = "not-a-real-psk"\n': '''psk = "not-a-real-psk"
address = "10.0.0.23/24"
gateway = "10.0.0.1"
dns = ["10.0.0.53", "10.0.0.54"]
bssid = "02-4C-49-4E-54-4C"
channel = 6
country = "nl"
hostname = "Panel-4-12"
''', 'timezone = "Europe/Amsterdam"': 'timezone = "America/New_York"\nclock = 12\n'
     'language = "nl"'}, '''
[panel]
name = "Boardroom, 4th floor"
device = "7C:DF:A1:00:00:01"

[proxy]
url = "http://proxy.contoso.example:3128/"
user = "panels"
password = "not-a-real-proxy-password"
no_proxy = [".contoso.example", "*.lab.example", "10.0.0.0/8", "printer"]

[privacy]
show = "organizer"

[booking]
allowed = false
durations = [60, 15, 30, 120]

[booking.check_in]
enabled = true
window_before_min = 0
window_after_min = 15

[service]
recipient = "facilities@contoso.example"
catering = [" More coffee ", "Water"]
support = ["Projector issue"]

[schedule]
refresh_min = 10
office_hours = "06:30-24:00"
office_days = ["Monday", "wed", "sat"]
full_refresh_every = 1
listen_s = 12
show_time = "always"
low_battery_percent = 0
low_battery_refresh_min = 60

[tls]
extra_ca = ["certs/root.pem", "certs/root.pem"]
''')
    doc = cf.resolve(cf.load(write(tmp_path, text)))
    assert doc["panel"] == {"name": "Boardroom, 4th floor", "device": "7cdfa1000001"}
    assert doc["wifi"] == {
        "ssid": "lintel-lab", "psk": "not-a-real-psk",
        "static": {"address": "10.0.0.23", "netmask": "255.255.255.0", "gateway": "10.0.0.1",
                   "dns": ["10.0.0.53", "10.0.0.54"]},
        "bssid": "02:4c:49:4e:54:4c", "channel": 6, "country": "NL", "hostname": "panel-4-12",
        "keep_address_min": 60}
    assert doc["proxy"] == {"host": "proxy.contoso.example", "port": 3128, "user": "panels",
                            "password": "not-a-real-proxy-password",
                            "no_proxy": [".contoso.example", ".lab.example", "10.0.0.0/8",
                                         "printer"]}
    assert doc["locale"] == {"timezone": "America/New_York", "posix_tz": "EST5EDT,M3.2.0,M11.1.0",
                             "clock": 12, "language": "nl"}
    assert doc["privacy"] == {"show": "organizer"}
    assert doc["booking"] == {"allowed": False, "durations": [15, 30, 60, 120],
                              "check_in": {"enabled": True, "window_before_min": 0,
                                           "window_after_min": 15},
                              "auto_release_min": 0}
    assert doc["service"] == {"recipient": {"address": "facilities@contoso.example",
                                            "name": None},
                              "catering": ["More coffee", "Water"], "support": ["Projector issue"]}
    assert doc["schedule"] == {"refresh_min": 10, "office_hours": [390, 1440],
                               "office_days": [0, 2, 5], "full_refresh_every": 1,
                               "low_battery_percent": 0, "low_battery_refresh_min": 60,
                               "listen_s": 12, "show_time": "always"}
    assert doc["tls"]["extra_ca"] == [ca_pem]  # the same certificate once
    assert json.loads(cf.encode(doc)) == doc


def test_static_address_dns_defaults_to_the_gateway(tmp_path):
    text = variant({'psk = "not-a-real-psk"': 'psk = "not-a-real-psk"\n'
                    'address = "192.168.8.40/22"\ngateway = "192.168.9.1"'})
    static = cf.resolve(cf.load(write(tmp_path, text)))["wifi"]["static"]
    assert static == {"address": "192.168.8.40", "netmask": "255.255.252.0",
                      "gateway": "192.168.9.1", "dns": ["192.168.9.1"]}


EWS = {'''type = "graph"
tenant = "contoso.example"
client_id = "00000000-0000-0000-0000-000000000000"''': '''type = "ews"
url = "https://mail.contoso.example/EWS/Exchange.asmx"
account = "CONTOSO\\\\svc-panels"
password = "not-a-real-ews-password"'''}


def test_ews_backend(tmp_path):
    doc = cf.resolve(cf.load(write(tmp_path, variant(EWS))))
    assert doc["backend"] == {"type": "ews", "url": "https://mail.contoso.example/EWS/Exchange.asmx",
                              "auth": "ntlm", "account": "CONTOSO\\svc-panels",
                              "user": "svc-panels", "domain": "CONTOSO",
                              "password": "not-a-real-ews-password"}
    upn = variant({**EWS}).replace("CONTOSO\\\\svc-panels", "svc-panels@contoso.example")
    upn = upn.replace('password = "not-a-real-ews-password"',
                      'password = "not-a-real-ews-password"\nauth = "basic"')
    doc = cf.resolve(cf.load(write(tmp_path, upn)))
    assert (doc["backend"]["user"], doc["backend"]["domain"], doc["backend"]["auth"]) == (
        "svc-panels@contoso.example", "", "basic")


def test_secrets(tmp_path):
    text = variant(EWS, '[proxy]\nurl = "http://proxy.contoso.example:3128"\nuser = "u"\n'
                        'password = "not-a-real-proxy-password"\n')
    config = cf.load(write(tmp_path, text))
    assert set(cf.secrets(config)) == {"not-a-real-psk", "not-a-real-ews-password",
                                       "not-a-real-proxy-password"}
    # Longest first, so redacting one never leaves part of a longer one.
    assert [len(s) for s in cf.secrets(config)] == sorted(map(len, cf.secrets(config)),
                                                          reverse=True)
    open_net = cf.load(write(tmp_path, variant({'psk = "not-a-real-psk"': 'psk = ""'})))
    assert cf.secrets(open_net) == []
    assert [w.key for w in open_net.warnings] == ["wifi.psk"]


def test_check_device(tmp_path):
    config = cf.load(write(tmp_path, variant(append='[panel]\ndevice = "7cdfa1000001"\n')))
    cf.check_device(config, "7cdfa1000001")
    cf.check_device(config, "7CDFA1000001")
    with pytest.raises(LintelError, match=rf"panel.toml:{NEXT + 1}: panel.device: this file "
                                          "is for panel 7cdfa1000001, but the panel on this "
                                          "port is 7cdfa1000002"):
        cf.check_device(config, "7cdfa1000002")
    anyone = cf.load(write(tmp_path, BASE))
    cf.check_device(anyone, "7cdfa1000002")


# --- problems: key and line --------------------------------------------------------------

PSK = 'psk = "not-a-real-psk"'
CASES = [
    # (replacements, appended text, key, line, part of the message)
    ({PSK: 'psk = "short"'}, "", "wifi.psk", 3, "must be 8 to 63 characters"),
    ({PSK: 'psk = "' + "x" * 64 + '"'}, "", "wifi.psk", 3, "must be 8 to 63 characters"),
    ({PSK: 'psk = "pässwörd-123"'}, "", "wifi.psk", 3, "printable ASCII"),
    ({PSK: "psk = 12345678"}, "", "wifi.psk", 3, "must be text (in quotes), not a number"),
    ({PSK: ""}, "", "wifi.psk", 1, "missing"),
    ({'ssid = "lintel-lab"': 'ssid = "' + "é" * 17 + '"'}, "", "wifi.ssid", 2, "1 to 32 bytes"),
    ({'ssid = "lintel-lab"': 'ssid = ""'}, "", "wifi.ssid", 2, "is empty"),
    ({PSK: PSK + '\naddress = "10.0.0.23"\ngateway = "10.0.0.1"'}, "", "wifi.address", 4,
     "prefix length"),
    ({PSK: PSK + '\naddress = "10.0.0.23/24"'}, "", "wifi.gateway", 1, "needs a gateway"),
    ({PSK: PSK + '\naddress = "10.0.0.255/24"\ngateway = "10.0.0.1"'}, "", "wifi.address", 4,
     "broadcast address"),
    ({PSK: PSK + '\naddress = "10.0.0.23/24"\ngateway = "10.0.1.1"'}, "", "wifi.gateway", 5,
     "10.0.1.1 is not in 10.0.0.0/24"),
    ({PSK: PSK + '\naddress = "10.0.0.23/24"\ngateway = "10.0.0.1"\ndns = ["10.0.0.300"]'}, "",
     "wifi.dns[0]", 6, "not an IPv4 address"),
    ({PSK: PSK + '\naddress = "10.0.0.23/24"\ngateway = "10.0.0.1"\ndns = []'}, "",
     "wifi.dns", 6, "1 to 3 DNS servers"),
    ({PSK: PSK + '\ngateway = "10.0.0.1"'}, "", "wifi.gateway", 4, "only with a static address"),
    ({PSK: PSK + '\nbssid = "02:4c:49:4e:54"'}, "", "wifi.bssid", 4, "not a MAC address"),
    ({PSK: PSK + "\nchannel = 0"}, "", "wifi.channel", 4, "must be from 1 to 14, not 0"),
    ({PSK: PSK + '\nchannel = "6"'}, "", "wifi.channel", 4, "must be a whole number"),
    ({PSK: PSK + '\ncountry = "NLD"'}, "", "wifi.country", 4, "two-letter country code"),
    ({PSK: PSK + "\nkeep_address_min = 2000"}, "", "wifi.keep_address_min", 4,
     "from 0 to 1440"),
    ({PSK: PSK + '\naddress = "10.0.0.23/24"\ngateway = "10.0.0.1"\nkeep_address_min = 5'},
     "", "wifi.keep_address_min", 6, "a static one (wifi.address) is always kept"),
    ({PSK: PSK + '\nhostname = "panel_4"'}, "", "wifi.hostname", 4, "letters, digits and hyphens"),
    # proxy
    ({}, '[proxy]\nurl = "http://proxy.contoso.example"\n', "proxy.url", NEXT + 1,
     "give the port"),
    ({}, '[proxy]\nurl = "https://proxy.contoso.example:3128"\n', "proxy.url", NEXT + 1,
     "must start with http://"),
    ({}, '[proxy]\nurl = "http://u:p@proxy.contoso.example:3128"\n', "proxy.url", NEXT + 1,
     "must not contain a user name or password"),
    ({}, '[proxy]\nurl = "http://proxy.contoso.example:3128/path"\n', "proxy.url", NEXT + 1,
     "without a path"),
    ({}, '[proxy]\nurl = "http://proxy.contoso.example:99999"\n', "proxy.url", NEXT + 1,
     "not a host name or address"),
    ({}, '[proxy]\nurl = "http://proxy.contoso.example:3128"\nuser = "u"\n', "proxy.password",
     NEXT, "missing; proxy.user is set"),
    ({}, '[proxy]\nurl = "http://proxy.contoso.example:3128"\nuser = "u:v"\npassword = "p"\n',
     "proxy.user", NEXT + 2, "without a colon"),
    ({}, '[proxy]\nurl = "http://proxy:3128"\nno_proxy = ["ok.example", "bad host"]\n',
     "proxy.no_proxy[1]", NEXT + 2, '"bad host" is not a host'),
    ({}, '[proxy]\nuser = "u"\npassword = "p"\n', "proxy.url", NEXT, "missing"),
    # backend, graph
    ({'tenant = "contoso.example"': 'tenant = "contoso"'}, "", "backend.tenant", 7,
     "neither a tenant id"),
    ({'tenant = "contoso.example"': 'tenant = "common"'}, "", "backend.tenant", 7,
     "personal accounts"),
    ({'client_id = "00000000-0000-0000-0000-000000000000"':
      'client_id = "00000000-0000-0000-0000-00000000000"'}, "", "backend.client_id", 8,
     "is not a GUID"),
    ({'client_id = "00000000-0000-0000-0000-000000000000"': ""}, "", "backend.client_id", 5,
     "missing"),
    ({'type = "graph"': 'type = "exchange"'}, "", "backend.type", 6,
     'must be "graph" or "ews", not "exchange"'),
    ({'type = "graph"': 'type = "graph"\nscopes = ["Calendars.Read"]'}, "", "backend.scopes", 7,
     "must include offline_access"),
    ({'type = "graph"': 'type = "graph"\nscopes = ["offline_access", "Mail.Send", "mail.send"]'},
     "", "backend.scopes[2]", 7, "listed twice"),
    ({'type = "graph"': 'type = "graph"\nscopes = [\n  "offline_access",\n  "Mail Send",\n]'},
     "", "backend.scopes[1]", 9, "one name, no spaces"),
    ({'type = "graph"': 'type = "graph"\nauthority_host = "http://login.microsoftonline.us"'},
     "", "backend.authority_host", 7, "must start with https://"),
    ({'type = "graph"': 'type = "graph"\ngraph_host = "https://graph.microsoft.us/v1.0"'},
     "", "backend.graph_host", 7, "without a path"),
    ({'type = "graph"': 'type = "graph"\npassword = "x"'}, "", "backend.password", 7,
     "not used by a graph backend"),
    ({'type = "graph"': 'type = "graph"\nclientid = "x"'}, "", "backend.clientid", 7,
     'unknown key; did you mean "client_id"?'),
    # room
    ({'mailbox = "Boardroom 4.12 <room-4.12@contoso.example>"':
      'mailbox = "Boardroom 4.12 <room-4.12@contoso>"'}, "", "room.mailbox", 11,
     "not an e-mail address"),
    ({'mailbox = "Boardroom 4.12 <room-4.12@contoso.example>"':
      'mailbox = "Boardroom 4.12 room-4.12@contoso.example>"'}, "", "room.mailbox", 11,
     'is not "Name <address>"'),
    ({'mailbox = "Boardroom 4.12 <room-4.12@contoso.example>"': ""}, "", "room.mailbox", 10,
     "missing"),
    ({'mailbox = "Boardroom 4.12 <room-4.12@contoso.example>"':
      'mailbox = "Boardroom 4.12 <room-4.12@contoso.example>"\n'
      'room_list = "room-4.12@contoso.example"'}, "", "room.room_list", 12,
     "the room's own mailbox"),
    ({'mailbox = "Boardroom 4.12 <room-4.12@contoso.example>"':
      'mailbox = "Boardroom 4.12 <room-4.12@contoso.example>"\nalternatives = [\n'
      '  "a@contoso.example",\n  "ROOM-4.12@contoso.example",\n]'}, "",
     "room.alternatives[1]", 14, "this panel's own room"),
    ({'mailbox = "Boardroom 4.12 <room-4.12@contoso.example>"':
      'mailbox = "Boardroom 4.12 <room-4.12@contoso.example>"\nalternatives = [\n'
      '  "A <a@contoso.example>",\n  "B <A@Contoso.Example>",\n]'}, "",
     "room.alternatives[1]", 14, "already item 0"),
    ({'mailbox = "Boardroom 4.12 <room-4.12@contoso.example>"':
      'mailbox = "Boardroom 4.12 <room-4.12@contoso.example>"\nalternatives = "a@contoso.example"'},
     "", "room.alternatives", 12, "must be a list of addresses, not text"),
    # locale
    ({'timezone = "Europe/Amsterdam"': 'timezone = "Europe/Amsterdm"'}, "", "locale.timezone",
     14, 'did you mean "Europe/Amsterdam"?'),
    ({'timezone = "Europe/Amsterdam"': 'timezone = "../../etc/passwd"'}, "", "locale.timezone",
     14, "unknown time zone"),
    ({'timezone = "Europe/Amsterdam"': 'timezone = "Europe/Amsterdam"\nclock = 13'}, "",
     "locale.clock", 15, "must be 12 or 24, not 13"),
    ({'timezone = "Europe/Amsterdam"': 'timezone = "Europe/Amsterdam"\nclock = "24"'}, "",
     "locale.clock", 15, 'must be 12 or 24, not "24"'),
    ({'timezone = "Europe/Amsterdam"': 'timezone = "Europe/Amsterdam"\nlanguage = "NL"'}, "",
     "locale.language", 15, 'did you mean "nl"?'),
    # privacy
    ({}, '[privacy]\nshow = "everything"\n', "privacy.show", NEXT + 1,
     'must be "subject" or "organizer" or "busy"'),
    # booking
    ({}, "[booking]\nallowed = 1\n", "booking.allowed", NEXT + 1, "must be true or false"),
    ({}, "[booking]\ndurations = [15, 30, 30]\n", "booking.durations[2]", NEXT + 1,
     "30 is listed twice"),
    ({}, "[booking]\ndurations = [15, 600]\n", "booking.durations[1]", NEXT + 1,
     "from 5 to 480 minutes"),
    ({}, "[booking]\ndurations = []\n", "booking.durations", NEXT + 1, "1 to 6 durations"),
    ({}, "[booking]\ndurations = [15, 30.5]\n", "booking.durations[1]", NEXT + 1,
     "whole number of minutes, not a decimal number"),
    ({}, "[booking]\ncheck_in = { enabled = true, window_before_min = 61 }\n",
     "booking.check_in.window_before_min", NEXT + 1, "from 0 to 60"),
    ({}, "[booking]\ncheck_in = { enabeld = true }\n", "booking.check_in.enabeld", NEXT + 1,
     'did you mean "enabled"?'),
    ({}, "[booking]\ncheck_in = true\n", "booking.check_in", NEXT + 1, "must be a table"),
    ({}, "[booking]\nauto_release_min = 10\n", "booking.auto_release_min", NEXT + 1,
     "needs check-in"),
    ({}, "[booking]\nauto_release_min = 15\n[booking.check_in]\nenabled = true\n",
     "booking.auto_release_min", NEXT + 1, "check_in.window_after_min at least 15"),
    ({}, "[booking]\nauto_release_min = -1\n", "booking.auto_release_min", NEXT + 1,
     "from 0 to 120"),
    # service
    ({}, '[service]\ncatering = ["Coffee"]\n', "service.recipient", NEXT, "missing"),
    ({}, '[service]\nrecipient = "facilities@"\n', "service.recipient", NEXT + 1,
     "not an e-mail address"),
    ({}, '[service]\nrecipient = "f@contoso.example"\nsupport = ["Screen", "screen "]\n',
     "service.support[1]", NEXT + 2, "listed twice"),
    ({}, '[service]\nrecipient = "f@contoso.example"\ncatering = ["' + "x" * 61 + '"]\n',
     "service.catering[0]", NEXT + 2, "1 to 60 characters"),
    ({}, '[service]\nrecipient = "f@contoso.example"\ncatering = [' +
     ", ".join(f'"c{i}"' for i in range(9)) + "]\n", "service.catering", NEXT + 2, "at most 8"),
    # schedule
    ({}, '[schedule]\noffice_hours = "07:00-25:00"\n', "schedule.office_hours", NEXT + 1,
     '"25:00" is not a time of day'),
    ({}, '[schedule]\noffice_hours = "19:00-07:00"\n', "schedule.office_hours", NEXT + 1,
     "reversed"),
    ({}, '[schedule]\noffice_hours = "07:00"\n', "schedule.office_hours", NEXT + 1,
     "not a range"),
    ({}, '[schedule]\noffice_hours = "7:60-19:00"\n', "schedule.office_hours", NEXT + 1,
     '"7:60" is not a time of day'),
    ({}, '[schedule]\noffice_days = ["mon", "mon"]\n', "schedule.office_days[1]", NEXT + 1,
     "listed twice"),
    ({}, '[schedule]\noffice_days = ["mon", "fry"]\n', "schedule.office_days[1]", NEXT + 1,
     '"fry" is not a day'),
    ({}, "[schedule]\noffice_days = []\n", "schedule.office_days", NEXT + 1, "never wake"),
    ({}, "[schedule]\nrefresh_min = 0\n", "schedule.refresh_min", NEXT + 1, "from 1 to 240"),
    ({}, "[schedule]\nfull_refresh_every = 0\n", "schedule.full_refresh_every", NEXT + 1,
     "from 1 to 1000"),
    ({}, "[schedule]\nlisten_s = 2\n", "schedule.listen_s", NEXT + 1, "from 5 to 300"),
    ({}, "[schedule]\nshow_time = true\n", "schedule.show_time", NEXT + 1,
     '"mains" or "always" or "never", not true'),
    ({}, '[schedule]\nshow_time = "alway"\n', "schedule.show_time", NEXT + 1,
     'did you mean "always"?'),

    ({}, "[schedule]\nrefresh_min = 60\nlow_battery_refresh_min = 30\n",
     "schedule.low_battery_refresh_min", NEXT + 2, "shorter than schedule.refresh_min"),
    # panel
    ({}, '[panel]\ndevice = "7cdfa10000"\n', "panel.device", NEXT + 1, "not a panel id"),
    ({}, '[panel]\ndevice = "7cdfa1:000001"\n', "panel.device", NEXT + 1, "not a panel id"),
    ({}, '[panel]\nname = "' + "n" * 65 + '"\n', "panel.name", NEXT + 1, "at most 64"),
    ({}, '[panel]\nname = "a\\tb"\n', "panel.name", NEXT + 1, "control character"),
    ({}, '[panel]\nname = " "\n', "panel.name", NEXT + 1, "is empty"),
    ({}, '[tls]\nextra_ca = ""\n', "tls.extra_ca", NEXT + 1, "is empty"),
    ({}, "[privacy]\nshow = 2027-01-01\n", "privacy.show", NEXT + 1, 'not "2027-01-01"'),
    ({}, "[schedule]\noffice_hours = 07:00:00\n", "schedule.office_hours", NEXT + 1,
     "must be text (in quotes), not a date or time"),
    # unknown keys and tables
    ({PSK: 'pks = "not-a-real-psk"'}, "", "wifi.pks", 3, 'unknown key; did you mean "psk"?'),
    ({}, "[wfi]\nssid = 1\n", "wfi", NEXT, 'unknown table; did you mean "wifi"?'),
    ({}, "[schedule]\ntimezone = 1\n", "schedule.timezone", NEXT + 1,
     "unknown key; it belongs in [locale]"),
    ({}, "[schedule]\nSSID = 1\n", "schedule.SSID", NEXT + 1, "unknown key"),
    ({}, "[[panel]]\nname = 'x'\n", "panel", NEXT, "must be a table ([panel]), not a list"),
    ({"[wifi]": 'name = "x"\n[wifi]'}, "", "name", 1, "it belongs in [panel]"),
]


@pytest.mark.parametrize("replace, append, key, line, message", CASES,
                         ids=[f"{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_problem_names_key_and_line(tmp_path, replace, append, key, line, message):
    found = only(tmp_path, variant(replace, append))
    assert (found.key, found.line) == (key, line), found.format()
    assert message in found.message, found.format()


def test_ews_problems(tmp_path):
    text = variant({'type = "graph"\ntenant = "contoso.example"\n'
                    'client_id = "00000000-0000-0000-0000-000000000000"':
                    'type = "ews"\nurl = "http://mail.contoso.example/EWS/Exchange.asmx"\n'
                    'account = "a\\\\b\\\\c"\npassword = ""\nauth = "kerberos"\ntenant = "x"'})
    found = [(p.key, p.line, p.message) for p in problems(tmp_path, text)]
    assert found == [
        ("backend.url", 7, "must start with https://, like "
                           "https://mail.contoso.com/EWS/Exchange.asmx"),
        ("backend.account", 8, '"a\\b\\c" is not an account like DOMAIN\\user or user@domain '
                               '(in TOML, write "DOMAIN\\\\user")'),
        ("backend.password", 9, "is empty"),
        ("backend.auth", 10, 'must be "ntlm" or "basic", not "kerberos"'),
        ("backend.tenant", 11, "is not used by an ews backend (it is a graph key)"),
    ]
    whole = variant(EWS).replace("https://mail.contoso.example/EWS/Exchange.asmx",
                                 "https://mail.contoso.example")
    assert only(tmp_path, whole).message.startswith("give the whole EWS address")


def test_many_problems_at_once(tmp_path):
    text = """\
[wifi]
ssid = "lintel-lab"
pks = "not-a-real-psk"

[backend]
type = "graph"
tenant = "contoso.example"
client_id = "not-a-guid"

[room]
mailbox = "Boardroom <room@@contoso.example>"

[locale]
timezone = "Europe/Amsterdm"
clock = 25

[booking]
durations = [15, 15]

[schedule]
office_hours = "19:00-07:00"
"""
    path = write(tmp_path, text)
    with pytest.raises(cf.ConfigErrors) as e:
        cf.load(path)
    assert isinstance(e.value, LintelError)
    lines = str(e.value).splitlines()
    assert lines == [
        f'{path}:3: wifi.pks: unknown key; did you mean "psk"?',
        f'{path}:8: backend.client_id: "not-a-guid" is not a GUID like '
        '"00000000-0000-0000-0000-000000000000"',
        f'{path}:11: room.mailbox: "room@@contoso.example" is not an e-mail address like '
        "room@contoso.com",
        f'{path}:14: locale.timezone: unknown time zone "Europe/Amsterdm"; did you mean '
        '"Europe/Amsterdam"?',
        f"{path}:15: locale.clock: must be 12 or 24, not 25",
        f"{path}:18: booking.durations[1]: 15 is listed twice (also item 0)",
        f'{path}:21: schedule.office_hours: "19:00-07:00" is reversed or empty: the start must '
        "come before the end",
    ]
    assert [p.line for p in e.value.problems] == [3, 8, 11, 14, 15, 18, 21]
    assert cf.check(path) == e.value.problems


def test_missing_tables_are_one_problem_each(tmp_path):
    found = problems(tmp_path, "# nothing yet\n")
    assert [(p.key, p.line) for p in found] == [
        ("wifi", None), ("backend", None), ("room", None), ("locale", None)]
    assert found[0].format("panel.toml") == "panel.toml: wifi: missing: panel.toml needs a " \
                                            "[wifi] table"


@pytest.mark.parametrize("text, line, message", [
    ('[wifi]\nssid = "lintel-lab\n', 2, "Illegal character"),
    ("[wifi]\nssid = 'a'\nssid = 'b'\n", 3, "Cannot overwrite a value"),
    ("[wifi]\n[wifi]\n", 2, "Cannot declare"),
    ("[wifi\nssid = 'a'\n", 1, "Expected ']'"),
    ("[locale]\ntimezone = Europe/Amsterdam\n", 2, "Invalid value"),
])
def test_syntax_errors_name_the_line(tmp_path, text, line, message):
    found = only(tmp_path, text)
    assert found.key == "" and found.line == line
    assert found.message.startswith("not valid TOML: ") and message in found.message
    assert f"(at line {line}, column" in found.message
    assert found.format("panel.toml").startswith(f"panel.toml:{line}: not valid TOML: ")


def test_unreadable_files(tmp_path):
    missing = cf.check(tmp_path / "nope.toml")
    assert len(missing) == 1 and "cannot read: no such file" in missing[0].message
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"[wifi]\nssid = \"\xff\"\n")
    assert [(p.line, p.message) for p in cf.check(binary)] == [
        (2, "not valid TOML: the file is not UTF-8 text")]


def test_crlf_and_comments(tmp_path):
    text = ("# a comment with [brackets] and key = 'value'\r\n" + BASE.replace("\n", "\r\n")
            + '[privacy] # the screen\r\nshow = "nobody" # typo\r\n')
    found = only(tmp_path, text)
    assert (found.key, found.line) == ("privacy.show", NEXT + 2)


# --- TLS certificates --------------------------------------------------------------------

def _cert(days_from: int, days_to: int, name: str = "Lintel Test CA") -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days_from))
            .not_valid_after(now + datetime.timedelta(days=days_to))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def ca_pem():
    return _cert(-1, 365)


def test_extra_ca(tmp_path, ca_pem):
    other = _cert(-1, 365, "Second CA")
    (tmp_path / "bundle.pem").write_text(ca_pem + "\n# between\n" + other)
    config = cf.load(write(tmp_path, BASE + '[tls]\nextra_ca = "bundle.pem"\n'))
    assert cf.resolve(config)["tls"]["extra_ca"] == [ca_pem, other]
    # Relative to the panel.toml, not to the working directory.
    sub = tmp_path / "site"
    sub.mkdir()
    (sub / "root.pem").write_text(ca_pem)
    config = cf.load(write(sub, BASE + '[tls]\nextra_ca = ["root.pem"]\n'))
    assert cf.resolve(config)["tls"]["extra_ca"] == [ca_pem]


def test_extra_ca_problems(tmp_path, ca_pem):
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    (tmp_path / "with-key.pem").write_text(ca_pem + key)
    (tmp_path / "expired.pem").write_text(_cert(-30, -1, "Old CA"))
    (tmp_path / "empty.pem").write_text("nothing here\n")
    (tmp_path / "damaged.pem").write_text(ca_pem.replace(ca_pem.splitlines()[3], "A" * 64))
    (tmp_path / "future.pem").write_text(_cert(10, 365))
    text = BASE + """[tls]
extra_ca = [
    "missing.pem",
    "with-key.pem",
    "expired.pem",
    "empty.pem",
    "damaged.pem",
]
"""
    found = [(p.key, p.line, p.message) for p in problems(tmp_path, text)]
    assert [f[:2] for f in found] == [(f"tls.extra_ca[{i}]", NEXT + 2 + i) for i in range(5)]
    assert "cannot read" in found[0][2] and "no such file" in found[0][2]
    assert "holds a private key" in found[1][2]
    assert "(CN=Old CA) expired on" in found[2][2]
    assert "has no PEM certificate" in found[3][2]
    assert "certificate 1" in found[4][2] and "damaged" in found[4][2]
    future = cf.load(write(tmp_path, BASE + '[tls]\nextra_ca = "future.pem"\n'))
    assert [w.key for w in future.warnings] == ["tls.extra_ca"]
    assert "valid only from" in future.warnings[0].message
    assert only(tmp_path, BASE + "[tls]\nextra_ca = 3\n").message.startswith(
        "must be a file name or a list of file names")
    many = "".join(_cert(-1, 365, f"CA {i}") for i in range(cf.MAX_CA_CERTS + 1))
    (tmp_path / "many.pem").write_text(many)
    assert "fit a panel" in only(tmp_path, BASE + '[tls]\nextra_ca = "many.pem"\n').message


# --- Name <address> ------------------------------------------------------------------------

@pytest.mark.parametrize("text, address, name", [
    ("room@contoso.com", "room@contoso.com", None),
    ("  room@Contoso.COM  ", "room@contoso.com", None),
    ("Room.4-12+x@contoso.co.uk", "Room.4-12+x@contoso.co.uk", None),
    ("<room@contoso.com>", "room@contoso.com", None),
    ("My Custom Room Name <meetingroom@domain.com>", "meetingroom@domain.com",
     "My Custom Room Name"),
    ("My Custom Room Name<meetingroom@domain.com>", "meetingroom@domain.com",
     "My Custom Room Name"),
    ('"Lounge, 4th floor" <lounge@contoso.com>', "lounge@contoso.com", "Lounge, 4th floor"),
    ('"The \\"Big\\" Room" <big@contoso.com>', "big@contoso.com", 'The "Big" Room'),
    ('"" <room@contoso.com>', "room@contoso.com", None),
    ("Salle Étoile – 3ᵉ <etoile@contoso.fr>", "etoile@contoso.fr", "Salle Étoile – 3ᵉ"),
    ("会议室 <kaigi@contoso.jp>", "kaigi@contoso.jp", "会议室"),
    ("Vergaderzaal 🚀 <zaal@contoso.nl>", "zaal@contoso.nl", "Vergaderzaal 🚀"),
    ("x <a@xn--bcher-kva.example>", "a@xn--bcher-kva.example", "x"),
])
def test_parse_mailbox(text, address, name):
    box = cf.parse_mailbox(text)
    assert (box.address, box.name) == (address, name)
    assert cf.parse_mailbox(str(box)) == box


@pytest.mark.parametrize("text, words", [
    ("", "is empty"),
    ("room", "not an e-mail address"),
    ("room@", "not an e-mail address"),
    ("@contoso.com", "not an e-mail address"),
    ("room@contoso", "not a domain name"),
    ("room@@contoso.com", "not an e-mail address"),
    ("ro om@contoso.com", "cannot have"),
    ("room.@contoso.com", "cannot have"),
    ("room@-contoso.com", "not a domain name"),
    ("room@contoso.c0m", "not a domain name"),
    ("Room <room@contoso.com", 'is not "Name <address>"'),
    ("Room room@contoso.com>", 'is not "Name <address>"'),
    ("Room <room@contoso.com> trailing", 'is not "Name <address>"'),
    ("Room <<room@contoso.com>>", 'is not "Name <address>"'),
    ('"Room <room@contoso.com>', "unclosed or stray quote"),
    ('Ro"om <room@contoso.com>', "stray quote"),
    ("Room <>", "not an e-mail address"),
    ("Room\u0007 <room@contoso.com>", "control character"),
    ("N" * 65 + " <room@contoso.com>", "at most 64"),
    ("kamer@vergaderzaal.nl", None),  # fine: a check that the list is not all failures
])
def test_parse_mailbox_refuses(text, words):
    if words is None:
        assert cf.parse_mailbox(text).address == text
        return
    with pytest.raises(ValueError, match=words):
        cf.parse_mailbox(text)


def test_mailbox_str_quotes_when_needed():
    assert str(cf.Mailbox("a@b.example", "Lounge, 4th")) == '"Lounge, 4th" <a@b.example>'
    assert str(cf.Mailbox("a@b.example", "Plain")) == "Plain <a@b.example>"
    assert str(cf.Mailbox("a@b.example")) == "a@b.example"


# --- the scanner ---------------------------------------------------------------------------

def test_key_lines():
    text = '''\
# [not.a.table] key = "not a key"
top = 1
"quoted key" = 'x'   # comment [x]
dotted.key.here = true
[a]
s = """
[fake.header]
fake = 1
"""   # not the end: """
lit = \'\'\'
k = 2\'\'\'
arr = [
  1,   # one
  [2, 3],
  { x = 1, y.z = 2 },
  "],[",
]
inline = { p = 1, q = { r = 2 } }
[ a . "b.c" ]
d = 1979-05-27 07:32:00Z
[[list]]
n = 1
[list.sub]
m = 1
[[list]]
n = 2
'''
    lines = {cf.dotted(k): v for k, v in cf.key_lines(text).items()}
    expect = {
        "top": 2, '"quoted key"': 3, "dotted": 4, "dotted.key": 4, "dotted.key.here": 4,
        "a": 5, "a.s": 6, "a.lit": 10, "a.arr": 12, "a.arr[0]": 13, "a.arr[1]": 14,
        "a.arr[1][0]": 14, "a.arr[2]": 15, "a.arr[2].x": 15, "a.arr[2].y.z": 15,
        "a.arr[3]": 16, "a.inline": 18, "a.inline.q.r": 18, 'a."b.c"': 19, 'a."b.c".d': 20,
        "list": 21, "list[0]": 21, "list[0].n": 22, "list[0].sub": 23, "list[0].sub.m": 24,
        "list[1]": 25, "list[1].n": 26,
    }
    for key, line in expect.items():
        assert lines.get(key) == line, (key, lines.get(key))
    assert not any(k.startswith(("fake", "not")) or k in ("k", "a.fake") for k in lines)


def test_key_lines_explicit_table_wins_over_implicit():
    lines = cf.key_lines("[a.b]\nx = 1\n[a]\ny = 2\n")
    assert lines[("a",)] == 3 and lines[("a", "b")] == 1 and lines[("a", "y")] == 4


def test_dotted_keys_in_panel_toml(tmp_path):
    text = BASE.replace('[locale]\ntimezone = "Europe/Amsterdam"\n',
                        'locale.timezone = "Europe/Amsterdm"\n')
    text = 'booking.durations = [15, 15]\n' + text
    found = [(p.key, p.line) for p in problems(tmp_path, text)]
    assert ("booking.durations[1]", 1) in found
    # A dotted key inside [room] defines locale under room: an unknown key, on its line.
    assert ("room.locale", 14) in found
