"""`lintel tenant`, Exchange Web Services half: SOAP 1.1 at /EWS/Exchange.asmx over the same rooms
and events as Graph. exchangelib (a real EWS client) reads a room's day and compares it with Graph's
calendarView, books a room, reads room lists, and meets wrong passwords, missing rights and unknown
mailboxes; raw SOAP checks the panel's own requests (FindItem, GetUserAvailability, UpdateItem,
DeclineItem, CancelCalendarItem, a service mail), the NTLM handshake on one kept-alive connection
(pyspnego as the client), locked accounts, and the fault injection. One tenant process per
module."""

import base64
import datetime as dt
import http.client
import json
import re
import xml.etree.ElementTree as ET

import pytest
import spnego
from exchangelib import (
    BASIC,
    DELEGATE,
    NTLM,
    UTC,
    Account,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDateTime,
)
from exchangelib.errors import (
    ErrorAccessDenied,
    ErrorNonExistentMailbox,
    ErrorServerBusy,
    UnauthorizedError,
)
from test_tenant_graph import admin, call, day_slot, epoch, iso, now, sign_in, view
from test_tenant_identity import Tenant

from lintel.errors import LintelError
from lintel.tenant import seed as seed_mod
from lintel.tenant import server

SERVICE = "panels@fabrikam.example"
INES = "ines@fabrikam.example"
OMAR = "omar@fabrikam.example"
DESK = "desk@fabrikam.example"
BOARD = "board@fabrikam.example"  # organizer as subject; private stays private
HUDDLE = "huddle@fabrikam.example"  # keeps subjects; strips the private flag
STUDIO = "studio@fabrikam.example"  # reviewer; SendAs
VAULT = "vault@fabrikam.example"  # no rights for the service account
PASSWORD = "fake-Passw0rd:with-a-colon"  # made up; a colon, as Basic's user:password meets it
INES_PASSWORD = "another-fake-one"
ENDPOINT = "/EWS/Exchange.asmx"
NS = {"s": "http://schemas.xmlsoap.org/soap/envelope/",
      "m": "http://schemas.microsoft.com/exchange/services/2006/messages",
      "t": "http://schemas.microsoft.com/exchange/services/2006/types",
      "e": "http://schemas.microsoft.com/exchange/services/2006/errors"}
UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

SEED = {
    "tenant": {"domain": "fabrikam.example", "name": "Fabrikam"},
    "users": [
        {"upn": SERVICE, "name": "Fabrikam Panels", "service_account": True},
        {"upn": INES, "name": "Ines Duarte", "given_name": "Ines", "surname": "Duarte"},
        {"upn": OMAR, "name": "Omar Haddad"},
        {"upn": DESK, "name": "Service desk"},
    ],
    "tokens": {"poll_interval": 1, "device_code_lifetime": 60, "access_token_lifetime": 600},
    "ews": {"domain": "FABRIKAM", "accounts": [
        {"upn": SERVICE, "logon": "svc-panels", "password": PASSWORD},
        {"upn": INES, "logon": "ines", "password": INES_PASSWORD, "locked": True},
    ]},
    "timezone": "Europe/Amsterdam",
    "rooms": [
        {"address": BOARD, "name": "Board room", "capacity": 12, "remove_private_property": False},
        {"address": HUDDLE, "name": "Huddle", "delete_subject": False,
         "add_organizer_to_subject": False},
        {"address": STUDIO, "name": "Studio", "delegate": "reviewer", "send_as": True},
        {"address": VAULT, "name": "Vault", "delegate": "none"},
    ],
    "room_lists": [
        {"address": "floor-2@fabrikam.example", "name": "Floor 2",
         "rooms": [BOARD, HUDDLE, STUDIO]},
        {"address": "floor-1@fabrikam.example", "name": "Floor 1", "rooms": [VAULT]},
    ],
    "events": [
        {"room": BOARD, "day": -1, "start": "07:30", "minutes": 15, "subject": "Stand-up",
         "organizer": INES, "recurrence": {"pattern": "daily", "count": 5}},
    ],
}


@pytest.fixture(scope="module")
def tenant(tmp_path_factory):
    t = Tenant(tmp_path_factory.mktemp("ews"), seed=SEED)
    yield t
    t.stop()


@pytest.fixture(scope="module")
def token(tenant):
    return sign_in(tenant)


@pytest.fixture
def trust(tenant, monkeypatch):
    """exchangelib talks through requests: trust the tenant's CA the way requests documents."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tenant.ca))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def account(tenant, mailbox, user=r"FABRIKAM\svc-panels", password=PASSWORD, auth=NTLM):
    """An exchangelib Account for `mailbox` as a delegate (no autodiscover: the endpoint is
    given), failing fast as Credentials (not ServiceAccount) do."""
    config = Configuration(service_endpoint=tenant.base + ENDPOINT,
                           credentials=Credentials(user, password), auth_type=auth)
    return Account(mailbox, config=config, access_type=DELEGATE, autodiscover=False,
                   default_timezone=UTC)


# -- raw SOAP -----------------------------------------------------------------------------------


def basic(user=r"FABRIKAM\svc-panels", password=PASSWORD):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def envelope(body, header='<t:RequestServerVersion Version="Exchange2013"/>'):
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" '
            'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">'
            f"<soap:Header>{header}</soap:Header><soap:Body>{body}</soap:Body>"
            "</soap:Envelope>")


def connect(tenant):
    return http.client.HTTPSConnection("127.0.0.1", tenant.port, context=tenant.context,
                                       timeout=10)


def post(tenant, body, auth="basic", conn=None, raw=None):
    """(status, headers, bytes) of one SOAP POST of `body` in an envelope (or of `raw` bytes);
    `auth` is an Authorization value, "basic" for the service account's Basic, or None."""
    own = conn is None
    conn = conn or connect(tenant)
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if auth:
        headers["Authorization"] = basic() if auth == "basic" else auth
    try:
        conn.request("POST", ENDPOINT, body=raw if raw is not None else envelope(body).encode(),
                     headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        if own:
            conn.close()


def soap(tenant, body, **kw):
    """The SOAP body's first element of a 200 answer."""
    status, _, data = post(tenant, body, **kw)
    assert status == 200, (status, data)
    root = ET.fromstring(data)
    info = root.find("s:Header/t:ServerVersionInfo", NS)
    assert info is not None and info.get("MajorVersion") == "15"  # Exchange 2016/2019
    return root.find("s:Body", NS)[0]


def messages(resp):
    """The response messages of a response with m:ResponseMessages."""
    return list(resp.find("m:ResponseMessages", NS))


def ok(msg):
    assert msg.get("ResponseClass") == "Success", ET.tostring(msg)
    assert msg.findtext("m:ResponseCode", namespaces=NS) == "NoError"
    return msg


def error(msg, code):
    assert msg.get("ResponseClass") == "Error", ET.tostring(msg)
    assert msg.findtext("m:ResponseCode", namespaces=NS) == code, ET.tostring(msg)
    assert msg.findtext("m:MessageText", namespaces=NS)
    assert msg.findtext("m:DescriptiveLinkKey", namespaces=NS) == "0"
    return msg


def folder(mailbox, name="calendar"):
    return (f'<t:DistinguishedFolderId Id="{name}"><t:Mailbox><t:EmailAddress>{mailbox}'
            "</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>")


PANEL_PROPERTIES = ("item:Subject", "calendar:Start", "calendar:End", "calendar:Organizer",
                    "calendar:IsAllDayEvent", "calendar:IsCancelled", "item:Sensitivity",
                    "calendar:LegacyFreeBusyStatus")


def find_item(mailbox, start, end, limit=None):
    """The panel's FindItem: IdOnly plus what the door shows, a CalendarView in UTC."""
    props = "".join(f'<t:FieldURI FieldURI="{p}"/>' for p in PANEL_PROPERTIES)
    most = f' MaxEntriesReturned="{limit}"' if limit else ""
    return (f'<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
            f"<t:AdditionalProperties>{props}</t:AdditionalProperties></m:ItemShape>"
            f'<m:CalendarView{most} StartDate="{iso(start)}" EndDate="{iso(end)}"/>'
            f"<m:ParentFolderIds>{folder(mailbox)}</m:ParentFolderIds></m:FindItem>")


def items(tenant, mailbox, start, end):
    [msg] = messages(soap(tenant, find_item(mailbox, start, end)))
    return ok(msg).findall("m:RootFolder/t:Items/t:CalendarItem", NS)


def rest_id(ews_id):
    """An EWS item id as Graph (REST) writes it: URL-safe Base64."""
    return ews_id.translate(str.maketrans("/+", "-_"))


def add_event(tenant, **spec):
    return admin(tenant, "POST", "/_admin/events", spec)


def graph_events(tenant, token, room, start, end):
    status, _, body = view(tenant, token, room, start, end, "&$top=100")
    assert status == 200, body
    return body["value"]


# -- the seed ------------------------------------------------------------------------------------


def test_seed_key_and_its_problems(tmp_path):
    demo = seed_mod.read(seed_mod.DEFAULT_SEED)
    seed_mod.validate(demo, server.load_modules(), seed_mod.DEFAULT_SEED)
    [svc] = demo["ews"]["accounts"]
    assert demo["ews"]["domain"] == "CONTOSO" and svc["logon"] == "svc-panels"
    assert svc["upn"] in [u["upn"] for u in demo["users"] if u.get("service_account")]
    cases = [
        ({"domain": "CON TOSO", "accounts": [{"upn": SERVICE, "logon": "a", "password": "p"}]},
         "ews.domain:"),
        ({"domain": "X", "accounts": [{"upn": "nobody@fabrikam.example", "logon": "a",
                                       "password": "p"}]}, "ews.accounts[0].upn:"),
        ({"domain": "X", "accounts": [{"upn": SERVICE, "logon": "a\\b", "password": "p"}]},
         "ews.accounts[0].logon:"),
        ({"domain": "X", "accounts": [{"upn": SERVICE, "logon": "a", "password": ""}]},
         "ews.accounts[0].password:"),
        ({"domain": "X", "accounts": [{"upn": SERVICE, "logon": "a", "password": "p",
                                       "locked": "yes"}]}, "ews.accounts[0].locked:"),
        ({"domain": "X", "accounts": []}, "ews.accounts:"),
        ({"domain": "X", "accounts": [{"upn": SERVICE, "logon": "a", "password": "p"}],
          "realm": "x"}, "ews.realm: unknown key"),
    ]
    for ews, expected in cases:
        with pytest.raises(LintelError) as e:
            seed_mod.validate({**SEED, "ews": ews}, server.load_modules(), tmp_path / "s.json")
        assert expected in str(e.value), (ews, str(e.value))


# -- authentication ----------------------------------------------------------------------------


def test_iis_offers_negotiate_ntlm_and_basic(tenant):
    status, headers, data = post(tenant, "<m:GetRoomLists/>", auth=None)
    assert status == 401
    assert headers.get_all("WWW-Authenticate") == ["Negotiate", "NTLM",
                                                   'Basic realm="127.0.0.1"']
    assert headers["Content-Type"].startswith("text/html") and b"401 - Unauthorized" in data
    status, headers, _ = post(tenant, "<m:GetRoomLists/>", auth="Bearer eyJ0eXAiOi.x.y")
    assert status == 401 and "NTLM" in headers.get_all("WWW-Authenticate")


def test_basic_takes_the_names_iis_takes(tenant):
    for user in (r"FABRIKAM\svc-panels", r"fabrikam\SVC-PANELS", "svc-panels",
                 "svc-panels@fabrikam.example", SERVICE):
        ok(soap(tenant, "<m:GetRoomLists/>", auth=basic(user)))
    for user, password in ((r"FABRIKAM\svc-panels", "wrong"), (r"OTHER\svc-panels", PASSWORD),
                           ("nobody", PASSWORD), ("svc-panels@elsewhere.example", PASSWORD)):
        assert post(tenant, "<m:GetRoomLists/>", auth=basic(user, password))[0] == 401


def ntlm_handshake(tenant, user, password, protocol="ntlm", scheme="NTLM", body=None):
    """pyspnego's initiator against the tenant on one kept-alive connection: (connection,
    status of the authenticated request, its body)."""
    conn = connect(tenant)
    client = spnego.client(user, password, hostname="127.0.0.1", service="HTTP",
                           protocol=protocol)
    body = body or "<m:GetRoomLists/>"
    status, headers, _ = post(tenant, body, f"{scheme} {base64.b64encode(client.step()).decode()}",
                              conn)
    assert status == 401
    challenge = next(h for h in headers.get_all("WWW-Authenticate")
                     if h.startswith(scheme + " ")).split(" ", 1)[1]
    token = client.step(base64.b64decode(challenge))
    status, headers, data = post(tenant, body, f"{scheme} {base64.b64encode(token).decode()}",
                                 conn)
    return conn, status, data


def test_ntlm_authenticates_the_kept_alive_connection(tenant):
    since = admin(tenant, "GET", "/_admin/requests?limit=1")[-1]["id"]
    conn, status, data = ntlm_handshake(tenant, r"FABRIKAM\svc-panels", PASSWORD)
    assert status == 200 and b"floor-2@fabrikam.example" in data
    for _ in range(3):  # no Authorization header any more: the connection is authenticated
        assert post(tenant, "<m:GetRoomLists/>", auth=None, conn=conn)[0] == 200
    conn.close()
    assert post(tenant, "<m:GetRoomLists/>", auth=None)[0] == 401  # a new connection is not
    log = admin(tenant, "GET", f"/_admin/requests?since={since}")
    first = log[:5]
    assert len({r["conn"] for r in first}) == 1
    assert [r["status"] for r in first] == [401, 200, 200, 200, 200]
    assert first[0]["error"] == "ntlm challenge"
    assert all(r["form"] == {"operation": "GetRoomLists", "auth": "NTLM",
                             "user": r"FABRIKAM\svc-panels"} for r in first[1:])
    # the UPN with an empty domain, SPNEGO's Negotiate, and a wrong password
    assert ntlm_handshake(tenant, SERVICE, PASSWORD)[1] == 200
    assert ntlm_handshake(tenant, r"FABRIKAM\svc-panels", PASSWORD, "negotiate",
                          "Negotiate")[1] == 200
    conn, status, _ = ntlm_handshake(tenant, r"FABRIKAM\svc-panels", "wrong")
    assert status == 401
    assert post(tenant, "<m:GetRoomLists/>", auth=None, conn=conn)[0] == 401
    assert admin(tenant, "GET", "/_admin/requests?limit=2")[0]["error"] == \
        "logon failed: wrong password"


def test_locked_accounts(tenant):
    state = admin(tenant, "GET", "/_admin/ews/accounts")
    assert state["endpoint"] == tenant.base + ENDPOINT and state["domain"] == "FABRIKAM"
    by_logon = {a["logon"]: a for a in state["accounts"]}
    assert by_logon["ines"]["locked"] is True and by_logon["svc-panels"]["locked"] is False
    assert PASSWORD not in json.dumps(state) and "hash" not in json.dumps(state)
    # locked: the right password is turned away like a wrong one (IIS says no more)
    locked = post(tenant, "<m:GetRoomLists/>", auth=basic("ines", INES_PASSWORD))
    wrong = post(tenant, "<m:GetRoomLists/>", auth=basic("ines", "wrong"))
    assert locked[0] == wrong[0] == 401 and locked[2] == wrong[2]
    assert locked[1].get_all("WWW-Authenticate") == wrong[1].get_all("WWW-Authenticate")
    assert ntlm_handshake(tenant, r"FABRIKAM\ines", INES_PASSWORD)[1] == 401
    log = admin(tenant, "GET", "/_admin/requests?limit=4")
    assert [r["error"] for r in log] == ["logon failed: account locked",
                                         "logon failed: wrong password", "ntlm challenge",
                                         "logon failed: account locked"]
    ines = {a["logon"]: a for a in admin(tenant, "GET", "/_admin/ews/accounts")["accounts"]}
    assert ines["ines"]["failed_logons"] == 1  # the wrong password; the locked right one is not
    unlocked = admin(tenant, "POST", "/_admin/ews/accounts/lock",
                     {"account": INES, "locked": False})
    assert unlocked["locked"] is False and unlocked["failed_logons"] == 0  # as AD resets it
    ok(soap(tenant, "<m:GetRoomLists/>", auth=basic("ines", INES_PASSWORD)))
    # locking the service account: Basic and new NTLM handshakes fail at once; a connection
    # NTLM already authenticated stays so (IIS keeps the connection's logon)
    held, status, _ = ntlm_handshake(tenant, r"FABRIKAM\svc-panels", PASSWORD)
    assert status == 200
    locked = admin(tenant, "POST", "/_admin/ews/accounts/lock",
                   {"account": r"FABRIKAM\svc-panels", "locked": True})
    assert locked["locked"] is True and locked["name"] == r"FABRIKAM\svc-panels"
    assert post(tenant, "<m:GetRoomLists/>")[0] == 401
    assert ntlm_handshake(tenant, r"FABRIKAM\svc-panels", PASSWORD)[1] == 401
    assert post(tenant, "<m:GetRoomLists/>", auth=None, conn=held)[0] == 200
    held.close()
    admin(tenant, "POST", "/_admin/ews/accounts/lock", {"account": "svc-panels",
                                                         "locked": False})
    ok(soap(tenant, "<m:GetRoomLists/>"))
    for bad, code in (({"account": "nobody"}, 404), ({"account": "ines", "locked": "no"}, 400),
                      ({"locked": True}, 400), ({"account": "ines", "x": 1}, 400)):
        admin(tenant, "POST", "/_admin/ews/accounts/lock", bad, expect=(code,))


# -- exchangelib, a real EWS client --------------------------------------------------------------


def test_exchangelib_reads_the_day_graph_shows(tenant, token, trust):
    base = day_slot(tenant, 1)
    add_event(tenant, room=BOARD, start=iso(base), minutes=45, subject="Budget", organizer=INES)
    add_event(tenant, room=BOARD, start=iso(base + 3600), minutes=30, subject="Salary talks",
              organizer=OMAR, private=True)
    add_event(tenant, room=BOARD, start=iso(base + 7200), minutes=30, subject="Off",
              organizer=OMAR, cancelled=True)
    add_event(tenant, room=BOARD, start=iso(base + 10800), minutes=30, subject="Daily",
              organizer=OMAR, recurrence={"pattern": "daily", "count": 3})
    add_event(tenant, room=BOARD, start=iso(base + 2 * 86400), minutes=30, subject="Later",
              organizer=OMAR)
    ws, we = base - 20 * 3600, base + 4 * 3600  # ours, and the seed's stand-up if it falls here
    room = account(tenant, BOARD)
    got = list(room.calendar.view(start=EWSDateTime.fromtimestamp(ws, UTC),
                                  end=EWSDateTime.fromtimestamp(we, UTC)))
    expected = graph_events(tenant, token, BOARD, ws, we)
    assert len(got) == len(expected) >= 4
    for item, event in zip(got, expected, strict=True):
        assert rest_id(item.id) == event["id"] and item.changekey == event["changeKey"]
        assert item.subject == event["subject"]
        assert item.start.timestamp() == epoch(event["start"]["dateTime"][:19] + "Z")
        assert item.end.timestamp() == epoch(event["end"]["dateTime"][:19] + "Z")
        assert item.sensitivity == event["sensitivity"].capitalize()
        assert item.is_cancelled == event["isCancelled"]
        assert item.organizer.email_address == event["organizer"]["emailAddress"]["address"]
        assert item.type == {"singleInstance": "Single", "occurrence": "Occurrence"}[
            event["type"]]
    by_start = {int(i.start.timestamp()): i for i in got}
    assert by_start[base].subject == "Ines Duarte"  # the room's processing, as on Graph
    assert by_start[base + 3600].sensitivity == "Private"  # the room keeps it private
    assert by_start[base + 7200].subject == "Canceled: Omar Haddad"
    assert by_start[base + 7200].legacy_free_busy_status == "Free"
    assert "Stand-up" not in [i.subject for i in got]  # organizer as subject there too
    assert by_start[base + 10800].type == "Occurrence"  # a series, expanded
    assert by_start[base + 10800].subject == "Omar Haddad"


def test_exchangelib_books_the_room_and_graph_sees_it(tenant, token, trust):
    base = day_slot(tenant, 3)
    room = account(tenant, HUDDLE, user=SERVICE, auth=BASIC)
    item = CalendarItem(account=room, folder=room.calendar, subject="Booked at the door",
                        start=EWSDateTime.fromtimestamp(base, UTC),
                        end=EWSDateTime.fromtimestamp(base + 1800, UTC))
    item.save(send_meeting_invitations="SendToNone")
    [seen] = list(room.calendar.view(start=EWSDateTime.fromtimestamp(base, UTC),
                                     end=EWSDateTime.fromtimestamp(base + 60, UTC)))
    assert seen.id == item.id and seen.subject == "Booked at the door"
    assert seen.organizer.email_address == HUDDLE  # the room organizes a delegate's booking
    [event] = graph_events(tenant, token, HUDDLE, base, base + 60)
    assert event["id"] == rest_id(item.id) and event["subject"] == "Booked at the door"
    assert event["isOrganizer"] is True and event["organizer"]["emailAddress"]["address"] == \
        HUDDLE
    item.end = EWSDateTime.fromtimestamp(base + 3600, UTC)  # extend
    item.save(update_fields=["end"], conflict_resolution="AlwaysOverwrite",
              send_meeting_invitations="SendToNone")
    [event] = graph_events(tenant, token, HUDDLE, base, base + 60)
    assert event["end"]["dateTime"] == iso(base + 3600)[:-1] + ".0000000"
    assert event["changeKey"] == item.changekey
    item.delete(send_meeting_cancellations="SendToNone")
    assert graph_events(tenant, token, HUDDLE, base, base + 60) == []
    # a reviewer reads but cannot write
    studio = account(tenant, STUDIO)
    list(studio.calendar.view(start=EWSDateTime.fromtimestamp(base, UTC),
                              end=EWSDateTime.fromtimestamp(base + 60, UTC)))
    with pytest.raises(ErrorAccessDenied):
        CalendarItem(account=studio, folder=studio.calendar, subject="x",
                     start=EWSDateTime.fromtimestamp(base, UTC),
                     end=EWSDateTime.fromtimestamp(base + 60, UTC)).save()


def test_exchangelib_room_lists_and_rooms(tenant, token, trust):
    protocol = account(tenant, BOARD).protocol
    lists = list(protocol.get_roomlists())
    status, _, places = call(tenant, "GET", "/v1.0/places/microsoft.graph.roomlist", token)
    assert [(r.name, r.email_address) for r in lists] == [
        (p["displayName"], p["emailAddress"]) for p in places["value"]]
    assert {r.mailbox_type for r in lists} == {"PublicDL"}
    rooms = list(protocol.get_rooms("floor-2@fabrikam.example"))
    assert [(r.name, r.email_address) for r in rooms] == [
        ("Board room", BOARD), ("Huddle", HUDDLE), ("Studio", STUDIO)]


def test_exchangelib_meets_clear_errors(tenant, trust):
    start = EWSDateTime.now(UTC)
    for auth in (NTLM, BASIC):
        with pytest.raises(UnauthorizedError):
            account(tenant, BOARD, password="wrong", auth=auth).calendar  # noqa: B018
    with pytest.raises(ErrorAccessDenied):  # the service account has no right on the vault
        list(account(tenant, VAULT).calendar.view(start=start, end=start))
    with pytest.raises(ErrorNonExistentMailbox):
        list(account(tenant, "nobody@fabrikam.example").calendar.view(start=start, end=start))


def test_exchangelib_guesses_ntlm_and_reads_free_busy(tenant, trust):
    room = account(tenant, BOARD, auth=None)  # exchangelib reads the 401's offers
    base = day_slot(tenant, 5)
    add_event(tenant, room=VAULT, start=iso(base + 3600), minutes=60, subject="Audit",
              organizer=OMAR)
    views = list(room.protocol.get_free_busy_info(
        accounts=[(VAULT, "Required", False), ("nobody@fabrikam.example", "Required", False)],
        start=EWSDateTime.fromtimestamp(base, UTC),
        end=EWSDateTime.fromtimestamp(base + 3 * 3600, UTC), merged_free_busy_interval=60))
    assert room.protocol.auth_type == NTLM
    assert views[0].view_type == "FreeBusyMerged"  # no right on the vault: no details
    assert views[0].merged == "020"
    assert [e.busy_type for e in views[0].calendar_events] == ["Busy"]
    assert views[0].calendar_events[0].details is None
    assert "Unable to resolve e-mail address" in str(views[1])


def test_exchangelib_reads_the_servers_throttling(tenant, trust):
    room = account(tenant, HUDDLE)
    room.calendar  # noqa: B018 -- resolves the folder before the fault
    admin(tenant, "POST", "/_admin/faults", {"path": ENDPOINT, "status": 500,
                                             "code": "ErrorServerBusy", "back_off_ms": 7000,
                                             "operation": "FindItem"})
    start = EWSDateTime.now(UTC)
    with pytest.raises(ErrorServerBusy) as e:
        list(room.calendar.view(start=start, end=start + dt.timedelta(hours=1)))
    assert e.value.back_off == 7.0  # BackOffMilliseconds, read where Exchange puts it
    list(room.calendar.view(start=start, end=start + dt.timedelta(hours=1)))  # one-shot


# -- the panel's requests, raw -------------------------------------------------------------------


def test_find_item_as_the_panel_asks(tenant, token):
    base = day_slot(tenant, 7)
    for n, who in enumerate((INES, OMAR, INES)):
        add_event(tenant, room=BOARD, start=iso(base + n * 3600), minutes=30,
                  subject=f"Meeting {n}", organizer=who, private=n == 1)
    [msg] = messages(soap(tenant, find_item(BOARD, base, base + 3 * 3600, limit=2)))
    root = ok(msg).find("m:RootFolder", NS)
    assert root.get("TotalItemsInView") == "3" and root.get("IncludesLastItemInRange") == "false"
    found = root.findall("t:Items/t:CalendarItem", NS)
    assert len(found) == 2
    names = [c.tag.split("}")[1] for c in found[0]]
    assert names == ["ItemId", "Subject", "Sensitivity", "Start", "End", "IsAllDayEvent",
                     "LegacyFreeBusyStatus", "IsCancelled", "Organizer"]  # the schema's order
    first, second = found
    assert first.find("t:ItemId", NS).get("ChangeKey")
    assert first.findtext("t:Start", namespaces=NS) == iso(base)
    assert UTC_TIME.fullmatch(first.findtext("t:End", namespaces=NS))
    assert first.findtext("t:Subject", namespaces=NS) == "Ines Duarte"
    assert second.findtext("t:Sensitivity", namespaces=NS) == "Private"
    assert second.findtext("t:LegacyFreeBusyStatus", namespaces=NS) == "Busy"
    organizer = second.find("t:Organizer/t:Mailbox", NS)
    assert [c.tag.split("}")[1] for c in organizer] == ["Name"]  # FindItem: the name only
    assert organizer.findtext("t:Name", namespaces=NS) == "Omar Haddad"
    graph = graph_events(tenant, token, BOARD, base, base + 3 * 3600)
    ids = [rest_id(i.find("t:ItemId", NS).get("Id")) for i in found]
    assert ids == [e["id"] for e in graph[:2]]
    # the answer to a window that ends before it starts, and to an id that is none
    [msg] = messages(soap(tenant, find_item(BOARD, base, base - 60)))
    error(msg, "ErrorCalendarEndDateIsEarlierThanStartDate")
    get = ('<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape>'
           '<m:ItemIds><t:ItemId Id="bm90IGFuIGlk"/></m:ItemIds></m:GetItem>')
    error(messages(soap(tenant, get))[0], "ErrorInvalidIdMalformed")


def test_no_rights_and_unknown_mailboxes(tenant):
    start = day_slot(tenant, 2)
    [denied] = messages(soap(tenant, find_item(VAULT, start, start + 3600)))
    error(denied, "ErrorAccessDenied")
    [unknown] = messages(soap(tenant, find_item("nobody@fabrikam.example", start, start + 60)))
    error(unknown, "ErrorNonExistentMailbox")
    assert unknown.findtext("m:MessageXml/t:Value[@Name='SmtpAddress']", namespaces=NS) == \
        "nobody@fabrikam.example"
    get_folder = ("<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape>"
                  f"</m:FolderShape><m:FolderIds>{folder(VAULT)}{folder(BOARD)}"
                  f"{folder(BOARD, 'tasks')}</m:FolderIds></m:GetFolder>")
    denied, board, tasks = messages(soap(tenant, get_folder))
    error(denied, "ErrorAccessDenied")
    assert ok(board).findtext("m:Folders/t:CalendarFolder/t:DisplayName",
                              namespaces=NS) == "Calendar"
    error(tasks, "ErrorFolderNotFound")


def create_booking(tenant, room, start, end, subject="Booked at the door"):
    body = ('<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId>'
            f"{folder(room)}</m:SavedItemFolderId><m:Items><t:CalendarItem>"
            f"<t:Subject>{subject}</t:Subject><t:Start>{iso(start)}</t:Start>"
            f"<t:End>{iso(end)}</t:End></t:CalendarItem></m:Items></m:CreateItem>")
    [msg] = messages(soap(tenant, body))
    return ok(msg).find("m:Items/t:CalendarItem/t:ItemId", NS)


def set_end(item_id, change_key, end):
    return ('<m:UpdateItem ConflictResolution="AlwaysOverwrite" '
            'SendMeetingInvitationsOrCancellations="SendToNone"><m:ItemChanges><t:ItemChange>'
            f'<t:ItemId Id="{item_id}" ChangeKey="{change_key}"/><t:Updates><t:SetItemField>'
            '<t:FieldURI FieldURI="calendar:End"/><t:CalendarItem>'
            f"<t:End>{iso(end)}</t:End></t:CalendarItem></t:SetItemField></t:Updates>"
            "</t:ItemChange></m:ItemChanges></m:UpdateItem>")


def reference(kind, item_id, change_key, body="", disposition="SendAndSaveCopy"):
    return (f'<m:CreateItem MessageDisposition="{disposition}"><m:Items><t:{kind}>'
            f'<t:ReferenceItemId Id="{item_id}" ChangeKey="{change_key}"/>'
            + (f'<t:Body BodyType="Text">{body}</t:Body>' if body else "")
            + f"</t:{kind}></m:Items></m:CreateItem>")


def test_book_extend_end_early_and_cancel(tenant, token):
    base = day_slot(tenant, 9)
    made = create_booking(tenant, HUDDLE, base, base + 1800)
    [event] = graph_events(tenant, token, HUDDLE, base, base + 60)
    assert event["id"] == rest_id(made.get("Id")) and event["changeKey"] == made.get("ChangeKey")
    [msg] = messages(soap(tenant, set_end(made.get("Id"), made.get("ChangeKey"),
                                          base + 3600)))
    extended = ok(msg).find("m:Items/t:CalendarItem/t:ItemId", NS)
    assert extended.get("ChangeKey") != made.get("ChangeKey")
    assert msg.findtext("m:ConflictResults/t:Count", namespaces=NS) == "0"
    assert graph_events(tenant, token, HUDDLE, base, base + 60)[0]["end"]["dateTime"] == \
        iso(base + 3600)[:-1] + ".0000000"
    [msg] = messages(soap(tenant, set_end(made.get("Id"), extended.get("ChangeKey"),
                                          base + 900)))  # end early
    ok(msg)
    [item] = items(tenant, HUDDLE, base, base + 60)
    assert item.findtext("t:End", namespaces=NS) == iso(base + 900)
    [msg] = messages(soap(tenant, set_end(made.get("Id"), extended.get("ChangeKey"),
                                          base - 60)))
    error(msg, "ErrorCalendarEndDateIsEarlierThanStartDate")
    admin(tenant, "DELETE", "/_admin/outbox")
    [msg] = messages(soap(tenant, reference("CancelCalendarItem", made.get("Id"),
                                            made.get("ChangeKey"))))
    assert ok(msg).find("m:Items", NS) is not None
    assert items(tenant, HUDDLE, base, base + 60) == []
    assert graph_events(tenant, token, HUDDLE, base, base + 60) == []
    assert admin(tenant, "GET", "/_admin/outbox") == []  # nobody was invited: nobody is told
    # someone else's meeting is not the panel's to cancel; a reviewer cannot book
    theirs = add_event(tenant, room=HUDDLE, start=iso(base + 7200), minutes=30,
                       subject="Theirs", organizer=INES)
    [msg] = messages(soap(tenant, reference("CancelCalendarItem",
                                            theirs["id"].translate(str.maketrans("-_", "/+")),
                                            "x")))
    error(msg, "ErrorCalendarIsNotOrganizer")
    body = (f'<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId>'
            f"{folder(STUDIO)}</m:SavedItemFolderId><m:Items><t:CalendarItem>"
            f"<t:Subject>x</t:Subject><t:Start>{iso(base)}</t:Start><t:End>{iso(base + 60)}"
            "</t:End></t:CalendarItem></m:Items></m:CreateItem>")
    error(messages(soap(tenant, body))[0], "ErrorAccessDenied")


def test_release_a_no_show(tenant, token):
    admin(tenant, "DELETE", "/_admin/outbox")
    made = add_event(tenant, room=BOARD, start={"in_min": -12}, minutes=60,
                     subject="Quarterly numbers", organizer=OMAR)
    start = epoch(made["start"])
    [item] = [i for i in items(tenant, BOARD, start, start + 60)
              if rest_id(i.find("t:ItemId", NS).get("Id")) == made["id"]]
    ref = item.find("t:ItemId", NS)
    [msg] = messages(soap(tenant, reference("DeclineItem", ref.get("Id"), ref.get("ChangeKey"),
                                            "Released: nobody checked in.")))
    ok(msg)
    assert made["id"] not in [e["id"] for e in graph_events(tenant, token, BOARD, start,
                                                             start + 60)]
    [notice] = admin(tenant, "GET", "/_admin/outbox")
    assert notice["kind"] == "decline" and notice["from"]["address"] == BOARD
    assert notice["sender"]["address"] == SERVICE  # the delegate who answered for the room
    assert notice["to"] == [{"name": "Omar Haddad", "address": OMAR}]
    assert notice["subject"] == "Declined: Quarterly numbers"  # the organizer's own subject
    assert notice["body"] == "Released: nobody checked in."
    # declining takes write rights; the room cannot decline its own booking
    there = add_event(tenant, room=STUDIO, start={"in_min": -12}, minutes=60, subject="S",
                      organizer=OMAR)
    [msg] = messages(soap(tenant, reference("DeclineItem", there["id"].translate(
        str.maketrans("-_", "/+")), "x")))
    error(msg, "ErrorAccessDenied")
    own = create_booking(tenant, BOARD, now(tenant) + 600, now(tenant) + 1200)
    [msg] = messages(soap(tenant, reference("DeclineItem", own.get("Id"), own.get("ChangeKey"))))
    error(msg, "ErrorCalendarIsOrganizerForDecline")


def message_item(to, subject="Coffee for the board room", extra=""):
    recipients = "".join(f"<t:Mailbox><t:EmailAddress>{a}</t:EmailAddress></t:Mailbox>"
                         for a in to)
    return ('<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:SavedItemFolderId>'
            '<t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId><m:Items><t:Message>'
            f'<t:Subject>{subject}</t:Subject><t:Body BodyType="Text">Two pots, please.</t:Body>'
            + (f"<t:ToRecipients>{recipients}</t:ToRecipients>" if to else "")
            + f"{extra}</t:Message></m:Items></m:CreateItem>")


def test_service_request_mail_lands_in_the_outbox(tenant):
    admin(tenant, "DELETE", "/_admin/outbox")
    [msg] = messages(soap(tenant, message_item([DESK])))
    assert ok(msg).find("m:Items", NS) is not None
    [sent] = admin(tenant, "GET", "/_admin/outbox")
    assert sent["kind"] == "mail" and sent["from"]["address"] == SERVICE
    assert sent["to"] == [{"name": "Service desk", "address": DESK}]
    assert (sent["subject"], sent["body"], sent["content_type"]) == (
        "Coffee for the board room", "Two pots, please.", "text")
    assert sent["save_to_sent_items"] is True
    error(messages(soap(tenant, message_item([])))[0], "ErrorInvalidRecipients")
    as_room = "<t:From><t:Mailbox><t:EmailAddress>{}</t:EmailAddress></t:Mailbox></t:From>"
    ok(messages(soap(tenant, message_item([DESK], extra=as_room.format(STUDIO))))[0])
    error(messages(soap(tenant, message_item([DESK], extra=as_room.format(VAULT))))[0],
          "ErrorSendAsDenied")
    assert [m["from"]["address"] for m in admin(tenant, "GET", "/_admin/outbox")] == [
        SERVICE, STUDIO]


def availability(mailboxes, start, end, view="MergedOnly", interval=30):
    data = "".join(f"<t:MailboxData><t:Email><t:Address>{a}</t:Address></t:Email>"
                   "<t:AttendeeType>Room</t:AttendeeType><t:ExcludeConflicts>false"
                   "</t:ExcludeConflicts></t:MailboxData>" for a in mailboxes)
    rule = ("<t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>0</t:DayOrder>"
            "<t:Month>0</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek>")
    return ("<m:GetUserAvailabilityRequest><t:TimeZone><t:Bias>0</t:Bias>"
            f"<t:StandardTime>{rule}</t:StandardTime><t:DaylightTime>{rule}</t:DaylightTime>"
            f"</t:TimeZone><m:MailboxDataArray>{data}</m:MailboxDataArray>"
            "<t:FreeBusyViewOptions><t:TimeWindow>"
            f"<t:StartTime>{iso(start)[:-1]}</t:StartTime><t:EndTime>{iso(end)[:-1]}"
            "</t:EndTime></t:TimeWindow><t:MergedFreeBusyIntervalInMinutes>"
            f"{interval}</t:MergedFreeBusyIntervalInMinutes><t:RequestedView>{view}"
            "</t:RequestedView></t:FreeBusyViewOptions></m:GetUserAvailabilityRequest>")


def test_availability_of_rooms(tenant):
    base = day_slot(tenant, 11)
    add_event(tenant, room=HUDDLE, start=iso(base + 1800), minutes=60, subject="Busy",
              organizer=OMAR)
    add_event(tenant, room=HUDDLE, start=iso(base + 5400), minutes=30, subject="Maybe",
              organizer=OMAR, show_as="tentative")
    add_event(tenant, room=BOARD, start=iso(base), minutes=30, subject="Secret", organizer=INES,
              private=True)
    add_event(tenant, room=VAULT, start=iso(base + 3600), minutes=30, subject="Audit",
              organizer=OMAR)
    resp = soap(tenant, availability([HUDDLE, VAULT, "nobody@fabrikam.example"], base,
                                     base + 4 * 3600))
    huddle, vault, nobody = resp.findall("m:FreeBusyResponseArray/m:FreeBusyResponse", NS)
    ok(huddle.find("m:ResponseMessage", NS))
    assert huddle.findtext("m:FreeBusyView/t:FreeBusyViewType", namespaces=NS) == "MergedOnly"
    assert huddle.findtext("m:FreeBusyView/t:MergedFreeBusy", namespaces=NS) == "02210000"
    assert huddle.find("m:FreeBusyView/t:CalendarEventArray", NS) is None
    assert vault.findtext("m:FreeBusyView/t:MergedFreeBusy", namespaces=NS) == "00200000"
    error(nobody.find("m:ResponseMessage", NS), "ErrorMailRecipientNotFound")
    hours = huddle.find("m:FreeBusyView/t:WorkingHours", NS)
    assert hours.findtext("t:WorkingPeriodArray/t:WorkingPeriod/t:StartTimeInMinutes",
                          namespaces=NS) == "480"
    assert hours.findtext("t:TimeZone/t:Bias", namespaces=NS) == "-60"  # Amsterdam's office
    # details where the service account has rights, never for a private meeting; none for
    # the vault (free/busy only)
    resp = soap(tenant, availability([BOARD, VAULT], base, base + 2 * 3600, "DetailedMerged"))
    board, vault = resp.findall("m:FreeBusyResponseArray/m:FreeBusyResponse/m:FreeBusyView", NS)
    assert board.findtext("t:FreeBusyViewType", namespaces=NS) == "DetailedMerged"
    [event] = board.findall("t:CalendarEventArray/t:CalendarEvent", NS)
    assert event.findtext("t:StartTime", namespaces=NS) == iso(base)[:-1]  # the request's zone
    assert event.findtext("t:BusyType", namespaces=NS) == "Busy"
    assert event.findtext("t:CalendarEventDetails/t:IsPrivate", namespaces=NS) == "true"
    assert event.find("t:CalendarEventDetails/t:Subject", NS) is None
    assert vault.findtext("t:FreeBusyViewType", namespaces=NS) == "FreeBusyMerged"
    [event] = vault.findall("t:CalendarEventArray/t:CalendarEvent", NS)
    assert event.find("t:CalendarEventDetails", NS) is None


# -- faults ---------------------------------------------------------------------------------------


def add_fault(tenant, **spec):
    return admin(tenant, "POST", "/_admin/faults", {"path": ENDPOINT, **spec})


def test_injected_statuses_carry_soap_faults(tenant):
    add_fault(tenant, status=503, operation="FindItem")
    ok(soap(tenant, "<m:GetRoomLists/>"))  # another operation passes
    start = day_slot(tenant, 2)
    status, headers, data = post(tenant, find_item(BOARD, start, start + 60))
    assert status == 503 and headers["Content-Type"].startswith("text/xml")
    fault = ET.fromstring(data).find("s:Body/s:Fault", NS)
    assert fault.findtext("faultcode").endswith(":ErrorServerBusy")
    detail = fault.find("detail")
    assert detail.findtext("e:ResponseCode", namespaces=NS) == "ErrorServerBusy"
    assert detail.findtext("e:Message", namespaces=NS)
    assert detail.findtext("t:MessageXml/t:Value[@Name='BackOffMilliseconds']",
                           namespaces=NS) == "5000"
    ok(messages(soap(tenant, find_item(BOARD, start, start + 60)))[0])  # one-shot
    add_fault(tenant, status=500)
    status, _, data = post(tenant, "<m:GetRoomLists/>")
    assert fault_code(status, data) == "ErrorInternalServerError"
    assert ET.fromstring(data).find("s:Body/s:Fault/detail/t:MessageXml", NS) is None
    add_fault(tenant, status=500, code="ErrorServerBusy", back_off_ms=12000)  # as documented
    status, _, data = post(tenant, "<m:GetRoomLists/>")
    assert fault_code(status, data) == "ErrorServerBusy"
    assert ET.fromstring(data).findtext(
        "s:Body/s:Fault/detail/t:MessageXml/t:Value[@Name='BackOffMilliseconds']",
        namespaces=NS) == "12000"
    add_fault(tenant, status=502)
    status, headers, data = post(tenant, "<m:GetRoomLists/>")
    assert status == 502 and headers["Content-Type"].startswith("text/html")
    assert b"HTTP Error 502. Bad Gateway." in data
    log = admin(tenant, "GET", "/_admin/requests?limit=1")[0]
    assert log["fault"] == "status" and log["status"] == 502


def test_injected_response_codes(tenant):
    start = day_slot(tenant, 2)
    fault = add_fault(tenant, code="ErrorAccessDenied", operation="finditem", times=2)
    assert fault["kind"] == "code" and fault["remaining"] == 2
    for _ in range(2):
        [msg] = messages(soap(tenant, find_item(HUDDLE, start, start + 60)))
        error(msg, "ErrorAccessDenied")
        ok(soap(tenant, "<m:GetRoomLists/>"))
    ok(messages(soap(tenant, find_item(HUDDLE, start, start + 60)))[0])
    log = admin(tenant, "GET", "/_admin/requests?limit=5")
    assert [(r["fault"], r["error"]) for r in log[:4:2]] == [("code", "ErrorAccessDenied")] * 2
    add_fault(tenant, code="ErrorServerBusy", back_off_ms=30000)
    [msg] = messages(soap(tenant, find_item(HUDDLE, start, start + 60)))
    assert error(msg, "ErrorServerBusy").findtext(
        "m:MessageXml/t:Value[@Name='BackOffMilliseconds']", namespaces=NS) == "30000"
    for code in ("ErrorNonExistentMailbox", "ErrorFolderNotFound"):
        add_fault(tenant, code=code, message="Injected.")
        get_folder = ("<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape>"
                      f"</m:FolderShape><m:FolderIds>{folder(BOARD)}</m:FolderIds></m:GetFolder>")
        [msg] = messages(soap(tenant, get_folder))
        assert error(msg, code).findtext("m:MessageText", namespaces=NS) == "Injected."
    add_fault(tenant, code="ErrorInvalidRequest")
    resp = soap(tenant, "<m:GetRoomLists/>")  # this answer carries its class itself
    assert resp.get("ResponseClass") == "Error"
    assert resp.findtext("m:ResponseCode", namespaces=NS) == "ErrorInvalidRequest"
    add_fault(tenant, code="ErrorServerBusy", operation="GetUserAvailability")
    resp = soap(tenant, availability([BOARD, HUDDLE], start, start + 3600))
    assert len(resp.findall("m:FreeBusyResponseArray/m:FreeBusyResponse", NS)) == 2
    for response in resp.findall("m:FreeBusyResponseArray/m:FreeBusyResponse", NS):
        error(response.find("m:ResponseMessage", NS), "ErrorServerBusy")
    for bad in ({"code": "X", "kind": "reset"}, {"back_off_ms": -1, "status": 500},
                {"kind": "code"}, {"operation": "", "status": 500}):
        admin(tenant, "POST", "/_admin/faults", {"path": ENDPOINT, **bad}, expect=(400,))


def test_faults_wait_for_an_authenticated_request(tenant):
    fault = add_fault(tenant, code="ErrorAccessDenied", operation="GetRoomLists")
    assert post(tenant, "<m:GetRoomLists/>", auth=None)[0] == 401  # IIS's offers, untouched
    conn, status, data = ntlm_handshake(tenant, r"FABRIKAM\svc-panels", PASSWORD)
    assert status == 200  # the challenge leg passed the fault by; the authenticated one got it
    resp = ET.fromstring(data).find("s:Body", NS)[0]
    assert resp.findtext("m:ResponseCode", namespaces=NS) == "ErrorAccessDenied"
    [state] = [f for f in admin(tenant, "GET", "/_admin/faults") if f["id"] == fault["id"]]
    assert state["fired"] == 1 and state["remaining"] == 0
    ok(soap(tenant, "<m:GetRoomLists/>", auth=None, conn=conn))
    conn.close()


def test_damaged_bodies(tenant):
    start = day_slot(tenant, 2)
    add_fault(tenant, kind="truncate", operation="FindItem")
    conn = connect(tenant)
    conn.request("POST", ENDPOINT, body=envelope(find_item(BOARD, start, start + 60)).encode(),
                 headers={"Authorization": basic(), "Content-Type": "text/xml"})
    resp = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()
    add_fault(tenant, kind="malformed", operation="FindItem")
    status, _, data = post(tenant, find_item(BOARD, start, start + 60))
    assert status == 200 and data.startswith(b"<?xml")
    with pytest.raises(ET.ParseError):
        ET.fromstring(data)


# -- the envelope and the log -------------------------------------------------------------------


def fault_code(status, data):
    assert status == 500, (status, data)
    fault = ET.fromstring(data).find("s:Body/s:Fault", NS)
    code = fault.findtext("detail/e:ResponseCode", namespaces=NS)
    assert fault.findtext("faultcode").endswith(":" + code)
    return code


def test_requests_ews_refuses(tenant):
    assert fault_code(*post(tenant, "<m:FlyToTheMoon/>")[::2]) == "ErrorSchemaValidation"
    assert fault_code(*post(tenant, "", raw=b"<not xml")[::2]) == "ErrorSchemaValidation"
    bad = envelope("<m:GetRoomLists/>", '<t:RequestServerVersion Version="Exchange1999"/>')
    assert fault_code(*post(tenant, "", raw=bad.encode())[::2]) == "ErrorInvalidServerVersion"
    plain = envelope("<m:GetRoomLists/>", "")  # no RequestServerVersion: Exchange2007's schema
    assert post(tenant, "", raw=plain.encode())[0] == 200
    zone = envelope(find_item(BOARD, 0, 60), '<t:TimeZoneContext><t:TimeZoneDefinition '
                    'Id="Atlantis Standard Time"/></t:TimeZoneContext>')
    assert fault_code(*post(tenant, "", raw=zone.encode())[::2]) == "ErrorTimeZone"
    impersonating = envelope("<m:GetRoomLists/>", "<t:ExchangeImpersonation><t:ConnectingSID>"
                             f"<t:PrimarySmtpAddress>{INES}</t:PrimarySmtpAddress>"
                             "</t:ConnectingSID></t:ExchangeImpersonation>")
    assert fault_code(*post(tenant, "", raw=impersonating.encode())[::2]) == \
        "ErrorImpersonateUserDenied"


def test_the_log_keeps_no_secret(tenant):
    log = admin(tenant, "GET", "/_admin/requests")
    ews = [r for r in log if r["path"] == ENDPOINT]
    assert len(ews) > 50
    text = json.dumps(log)
    for secret in (PASSWORD, INES_PASSWORD, basic()[6:], "TlRMTVNT"):  # NTLMSSP in Base64
        assert secret not in text
    for r in ews:
        if r["status"] == 200:
            assert r["form"]["operation"] and r["form"]["user"].startswith("FABRIKAM\\")
            assert set(r["form"]) == {"operation", "auth", "user"}
