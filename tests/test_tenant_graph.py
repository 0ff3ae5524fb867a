"""`lintel tenant`, Graph v1.0 half: calendarView (paging, $select, Prefer: outlook.timezone,
recurring series), room-mailbox processing, events (create, update, delete, decline),
getSchedule, sendMail and the outbox, places, users, rights and scopes, Graph's error shape, and
faults. Real HTTPS against `lintel tenant` (one process per module); tokens come from the
tenant's own device code flow, approved through the admin API."""

import datetime as dt
import http.client
import json
import re
import urllib.parse
import uuid
import zoneinfo
from pathlib import Path

import pytest
from test_tenant_identity import Tenant

from lintel.errors import LintelError
from lintel.tenant import graph, server
from lintel.tenant import seed as seed_mod

SERVICE = "panels@fabrikam.example"
INES = "ines@fabrikam.example"
OMAR = "omar@fabrikam.example"
BOARD = "board@fabrikam.example"  # the defaults: organizer as subject; private stays private
HUDDLE = "huddle@fabrikam.example"  # keeps subjects; strips the private flag (the default)
STUDIO = "studio@fabrikam.example"  # organizer in front of the subject; reviewer; send-as
VAULT = "vault@fabrikam.example"  # no rights for the service account
PANEL_SCOPE = ("offline_access Calendars.ReadWrite.Shared Mail.Send Place.Read.All "
               "User.ReadBasic.All")
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
GRAPH_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}")
AMS = zoneinfo.ZoneInfo("Europe/Amsterdam")

SEED = {
    "tenant": {"domain": "fabrikam.example", "name": "Fabrikam",
               "domains": ["rooms.fabrikam.example"]},
    "users": [
        {"upn": SERVICE, "name": "Fabrikam Panels", "service_account": True},
        {"upn": INES, "name": "Ines Duarte", "given_name": "Ines", "surname": "Duarte"},
        {"upn": OMAR, "name": "Omar Haddad"},
    ],
    "tokens": {"poll_interval": 1, "device_code_lifetime": 60, "access_token_lifetime": 600},
    "timezone": "Europe/Amsterdam",
    "rooms": [
        {"address": BOARD, "name": "Board room", "capacity": 12, "building": "HQ", "floor": 2,
         "remove_private_property": False},
        {"address": HUDDLE, "name": "Huddle", "capacity": 4, "floor": 2, "delete_subject": False,
         "add_organizer_to_subject": False},
        {"address": STUDIO, "name": "Studio", "delegate": "reviewer", "send_as": True,
         "delete_subject": False, "room_lists": ["floor-2@fabrikam.example"]},
        {"address": VAULT, "name": "Vault", "delegate": "none", "floor": 1},
    ],
    "room_lists": [
        {"address": "floor-2@fabrikam.example", "name": "Floor 2", "rooms": [BOARD, HUDDLE]},
        {"address": "floor-1@fabrikam.example", "name": "Floor 1", "rooms": [VAULT]},
    ],
    "events": [
        {"room": BOARD, "day": -1, "start": "07:30", "minutes": 15, "subject": "Stand-up",
         "organizer": INES, "recurrence": {"pattern": "daily", "count": 5}},
        {"room": VAULT, "start": "10:00", "minutes": 60, "subject": "Vault audit",
         "organizer": OMAR},
    ],
}


# -- a Graph client over the tenant's HTTPS --------------------------------------------------


def sign_in(t, scope=PANEL_SCOPE, user=None):
    """An access token from the tenant's device code flow, approved through the admin API (as
    `user`, default the service account). How any test or bench gets a Graph token."""
    flow = t.device_code(scope)
    approve = {"user_code": flow["user_code"]}
    if user:
        approve["user"] = user
    admin(t, "POST", "/_admin/device/approve", approve)
    status, _, body = t.poll(flow["device_code"])
    assert status == 200, body
    return body["access_token"]


_CONNECTIONS = {}


def call(t, method, path, token=None, body=None, headers=None, raw=None,
         ctype="application/json"):
    """(status, headers, JSON or None) over one kept-alive connection per tenant, as a panel
    keeps one TLS session. `body` goes as JSON, `raw` as given."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
    elif raw is not None:
        data = raw
    if data is not None and ctype:
        h["Content-Type"] = ctype
    for attempt in (1, 2):
        conn = _CONNECTIONS.get(t.port)
        if conn is None:
            conn = _CONNECTIONS[t.port] = http.client.HTTPSConnection(
                "127.0.0.1", t.port, context=t.context, timeout=10)
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            payload = resp.read()
            break
        except (http.client.RemoteDisconnected, ConnectionError):
            conn.close()
            del _CONNECTIONS[t.port]
            if attempt == 2:
                raise
    if resp.getheader("Connection", "").lower() == "close":
        conn.close()
        del _CONNECTIONS[t.port]
    return resp.status, resp.headers, json.loads(payload) if payload else None


def admin(t, method, path, body=None, expect=(200, 201)):
    status, _, answer = call(t, method, path, body=body)
    assert status in expect, (status, answer)
    return answer


def follow(t, url, token, headers=None):
    """A nextLink (an absolute URL on this tenant) as a path for `call`."""
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == t.base
    return call(t, "GET", parts.path + "?" + parts.query, token, headers=headers)


def now(t):
    return admin(t, "GET", "/_admin/clock")["epoch"]


def iso(ts):
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def view(t, token, room, start, end, query="", headers=None):
    q = urllib.parse.quote(room)
    return call(t, "GET", f"/v1.0/users/{q}/calendar/calendarView?startDateTime={iso(start)}"
                          f"&endDateTime={iso(end)}{query}", token, headers=headers)


def assert_graph_error(status, headers, body, expect_status, code):
    assert status == expect_status, (status, body)
    err = body["error"]
    assert err["code"] == code, body
    assert isinstance(err["message"], str) and err["message"]
    inner = err["innerError"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", inner["date"])
    assert GUID.fullmatch(inner["request-id"]) and inner["request-id"] == headers["request-id"]
    assert inner["client-request-id"] == headers["client-request-id"]
    return err


def add_event(t, **spec):
    return admin(t, "POST", "/_admin/events", spec)


def day_slot(t, days):
    """A whole hour `days` from now (UTC): each test books its own part of the calendar."""
    return (int(now(t)) // 3600 + 24 * days) * 3600


@pytest.fixture(scope="module")
def tenant(tmp_path_factory):
    t = Tenant(tmp_path_factory.mktemp("graph"), seed=SEED)
    yield t
    t.stop()


@pytest.fixture(scope="module")
def token(tenant):
    return sign_in(tenant)


# -- the seed -----------------------------------------------------------------------------------


def test_demo_seed_is_the_panel_example_office():
    demo = seed_mod.read(seed_mod.DEFAULT_SEED)
    seed_mod.validate(demo, server.load_modules(), seed_mod.DEFAULT_SEED)
    text = (Path(__file__).parents[1] / "examples" / "panel.toml").read_text()
    rooms = {r["address"]: r for r in demo["rooms"]}
    lists = {rl["address"]: rl for rl in demo["room_lists"]}
    assert len(rooms) >= 8 and len(lists) >= 2
    for address in re.findall(r"[\w.\-]+@contoso\.example", text):
        if address.startswith(("room", "lounge")):
            assert address in rooms or address in lists, address
    assert rooms["room-4.12@contoso.example"]["name"] == "Boardroom 4.12"
    assert "room-4.12@contoso.example" in lists["rooms-floor-4@contoso.example"]["rooms"]
    assert "contoso.example" in demo["tenant"]["domains"]
    board = [e for e in demo["events"] if e["room"] == "room-4.12@contoso.example"]
    assert any(e.get("private") for e in board) and any(e.get("all_day") for e in board)
    assert any(e.get("cancelled") for e in board) and any("recurrence" in e for e in board)
    assert any(e.get("day") == 1 for e in board)
    assert any(e.get("start", "") >= "19:00" for e in board)  # busy in the evening too


def test_seed_problems_have_key_paths():
    bad = json.loads(json.dumps(SEED))
    bad["rooms"][1]["delegate"] = "owner"
    bad["room_lists"][0]["rooms"].append("nowhere@fabrikam.example")
    bad["events"][0]["recurrence"]["pattern"] = "monthly"
    bad["events"].append({"room": "ghost@fabrikam.example", "start": "25:00", "minutes": 5})
    bad["timezone"] = "Mars/Olympus_Mons"
    problems = graph.validate_seed(bad)
    assert any(p.startswith("rooms[1].delegate: ") for p in problems), problems
    assert any(p.startswith("room_lists[0].rooms[2]: ") for p in problems), problems
    assert any(p.startswith("events[0].recurrence.pattern: ") for p in problems), problems
    assert any(p.startswith("events[2].room: ") for p in problems), problems
    assert any(p.startswith("events[2].start: ") for p in problems), problems
    assert any(p.startswith("timezone: ") for p in problems), problems
    with pytest.raises(LintelError, match=r"s\.json: .*\(and \d+ more\)"):
        seed_mod.validate(bad, server.load_modules(), Path("s.json"))


# -- authentication, scopes, rights ---------------------------------------------------------------


def test_401_without_or_with_a_bad_token(tenant, token):
    path = f"/v1.0/users/{BOARD}/calendarView?startDateTime=2026-01-01&endDateTime=2026-01-02"
    status, headers, body = call(tenant, "GET", path)
    err = assert_graph_error(status, headers, body, 401, "InvalidAuthenticationToken")
    assert err["message"] == "Access token is empty."
    assert headers["WWW-Authenticate"].startswith("Bearer ")
    status, headers, body = call(tenant, "GET", path, "eyJhbGciOi.not.atoken")
    assert_graph_error(status, headers, body, 401, "InvalidAuthenticationToken")
    forged = token[:-8] + ("AAAAAAAA" if not token.endswith("AAAAAAAA") else "BBBBBBBB")
    status, headers, body = call(tenant, "GET", path, forged)
    assert_graph_error(status, headers, body, 401, "InvalidAuthenticationToken")
    admin(tenant, "POST", "/_admin/clock", {"advance": 601})  # past the 600 s lifetime
    try:
        status, headers, body = call(tenant, "GET", path, token)
        err = assert_graph_error(status, headers, body, 401, "InvalidAuthenticationToken")
        assert "expired" in err["message"]
    finally:
        admin(tenant, "POST", "/_admin/clock", {"offset": 0})


def test_403_when_a_scope_is_missing(tenant):
    narrow = sign_in(tenant, "User.Read")
    start = now(tenant)
    status, headers, body = view(tenant, narrow, BOARD, start, start + 3600)
    err = assert_graph_error(status, headers, body, 403, "ErrorAccessDenied")
    assert err["message"] == "Access is denied. Check credentials and try again."
    status, headers, body = call(tenant, "GET", "/v1.0/places/microsoft.graph.roomlist", narrow)
    assert_graph_error(status, headers, body, 403, "ErrorAccessDenied")
    status, headers, body = call(tenant, "POST", "/v1.0/me/sendMail", narrow, {"message": {
        "subject": "x", "toRecipients": [{"emailAddress": {"address": INES}}]}})
    assert_graph_error(status, headers, body, 403, "ErrorAccessDenied")
    status, headers, body = call(tenant, "GET", f"/v1.0/users/{INES}", narrow)
    assert_graph_error(status, headers, body, 403, "Authorization_RequestDenied")
    status, _, me = call(tenant, "GET", "/v1.0/me", narrow)
    assert status == 200 and me["userPrincipalName"] == SERVICE
    # Calendars.Read reads the user's own calendar only; a room's needs Calendars.Read.Shared
    own = sign_in(tenant, "Calendars.Read")
    assert call(tenant, "GET", f"/v1.0/me/calendarView?startDateTime={iso(start)}"
                               f"&endDateTime={iso(start + 60)}", own)[0] == 200
    status, headers, body = view(tenant, own, BOARD, start, start + 3600)
    assert_graph_error(status, headers, body, 403, "ErrorAccessDenied")


def test_mailbox_rights_then_recovery(tenant, token):
    start = now(tenant)
    status, headers, body = view(tenant, token, VAULT, start - 86400, start + 86400)
    assert_graph_error(status, headers, body, 403, "ErrorAccessDenied")
    changed = admin(tenant, "POST", "/_admin/rooms/rights", {"room": VAULT, "delegate": "editor"})
    assert changed["delegate"] == "editor"
    try:
        status, _, body = view(tenant, token, VAULT, start - 86400, start + 86400)
        assert status == 200
        assert [e["subject"] for e in body["value"]] == ["Omar Haddad"]  # the seeded audit
    finally:
        admin(tenant, "POST", "/_admin/rooms/rights", {"room": VAULT, "delegate": "none"})
    # reviewer: reads, but cannot book
    assert view(tenant, token, STUDIO, start, start + 3600)[0] == 200
    status, headers, body = call(tenant, "POST", f"/v1.0/users/{STUDIO}/calendar/events", token,
                                 {"subject": "Walk-in", "start": {"dateTime": iso(start)[:-1],
                                                                  "timeZone": "UTC"},
                                  "end": {"dateTime": iso(start + 900)[:-1], "timeZone": "UTC"}})
    assert_graph_error(status, headers, body, 403, "ErrorAccessDenied")
    # signed in as another user: no rights on the rooms at all
    ines = sign_in(tenant, PANEL_SCOPE, user=INES)
    status, headers, body = view(tenant, ines, BOARD, start, start + 3600)
    assert_graph_error(status, headers, body, 403, "ErrorAccessDenied")
    admin(tenant, "POST", "/_admin/rooms/rights", {"room": VAULT, "delegate": "owner"},
          expect=(400,))


def test_404_unknown_mailbox_and_event(tenant, token):
    start = now(tenant)
    status, headers, body = view(tenant, token, "nobody@fabrikam.example", start, start + 60)
    err = assert_graph_error(status, headers, body, 404, "ErrorInvalidUser")
    assert err["message"] == "The requested user 'nobody@fabrikam.example' is invalid."
    created = add_event(tenant, room=HUDDLE, start=iso(day_slot(tenant, 40)), minutes=30,
                        subject="Gone soon")
    assert call(tenant, "DELETE", f"/v1.0/users/{HUDDLE}/events/{created['id']}", token)[0] == 204
    for method in ("GET", "PATCH", "DELETE"):
        status, headers, body = call(tenant, method, f"/v1.0/users/{HUDDLE}/events/"
                                     f"{created['id']}", token,
                                     {"subject": "x"} if method == "PATCH" else None)
        err = assert_graph_error(status, headers, body, 404, "ErrorItemNotFound")
        assert err["message"] == "The specified object was not found in the store."
    status, headers, body = call(tenant, "GET", f"/v1.0/users/{HUDDLE}/events/not-an-id", token)
    assert_graph_error(status, headers, body, 400, "ErrorInvalidIdMalformed")


# -- calendarView -------------------------------------------------------------------------------


def test_calendar_view_pages_add_up_to_the_whole(tenant, token):
    base = day_slot(tenant, 3)
    made = add_event(tenant, room=HUDDLE, start=iso(base), minutes=10, subject="Slot",
                     organizer=OMAR, repeat={"count": 23, "every_min": 15})
    assert len(made) == 23
    start, end = base - 60, base + 24 * 3600
    status, _, whole = view(tenant, token, HUDDLE, start, end, "&$top=100")
    assert status == 200 and "@odata.nextLink" not in whole
    assert len(whole["value"]) == 23
    ids, pages = [], 0
    status, _, page = view(tenant, token, HUDDLE, start, end,
                           "&$top=7&$select=subject,start&$orderby=start/dateTime")
    while True:
        assert status == 200 and len(page["value"]) <= 7
        pages += 1
        ids += [e["id"] for e in page["value"]]
        assert all(set(e) == {"@odata.etag", "id", "subject", "start"} for e in page["value"])
        link = page.get("@odata.nextLink")
        if not link:
            break
        assert link.startswith(tenant.base + "/v1.0/users/") and "%24skiptoken=" in link
        status, _, page = follow(tenant, link, token)
    assert pages == 4
    assert ids == [e["id"] for e in whole["value"]]
    # Graph's default page is 10; Prefer: odata.maxpagesize sets it too
    status, _, first = view(tenant, token, HUDDLE, start, end)
    assert len(first["value"]) == 10 and first["@odata.nextLink"]
    status, headers, small = view(tenant, token, HUDDLE, start, end,
                                  headers={"Prefer": "odata.maxpagesize=4"})
    assert len(small["value"]) == 4 and headers["Preference-Applied"] == "odata.maxpagesize=4"
    status, _, rest = follow(tenant, small["@odata.nextLink"], token,
                             headers={"Prefer": "odata.maxpagesize=4"})
    assert [e["id"] for e in rest["value"]] == ids[4:8]


def test_calendar_view_delta(tenant, token):
    base = day_slot(tenant, 13)
    add_event(tenant, room=HUDDLE, start=iso(base), minutes=15, subject="Slot", organizer=OMAR,
              repeat={"count": 5, "every_min": 30})
    path = (f"/v1.0/users/{HUDDLE}/calendarView/delta?startDateTime={iso(base)}"
            f"&endDateTime={iso(base + 6 * 3600)}")
    small = {"Prefer": "odata.maxpagesize=2"}
    status, headers, page = call(tenant, "GET", path, token, headers=small)
    assert status == 200 and headers["Preference-Applied"] == "odata.maxpagesize=2"
    first = []
    while "@odata.nextLink" in page:
        assert len(page["value"]) == 2 and "@odata.deltaLink" not in page
        first += page["value"]
        status, _, page = follow(tenant, page["@odata.nextLink"], token, headers=small)
    first += page["value"]
    delta = page["@odata.deltaLink"]
    assert len(first) == 5 and delta.startswith(tenant.base) and "%24deltatoken=" in delta
    status, _, quiet = follow(tenant, delta, token)
    assert status == 200 and quiet["value"] == [] and quiet["@odata.deltaLink"]
    booked = add_event(tenant, room=HUDDLE, start=iso(base + 4 * 3600), minutes=15, subject="New")
    end = epoch(first[0]["end"]["dateTime"][:19] + "Z") + 600
    assert call(tenant, "PATCH", f"/v1.0/users/{HUDDLE}/events/{first[0]['id']}", token,
                {"end": {"dateTime": iso(end)[:-1], "timeZone": "UTC"}})[0] == 200
    assert call(tenant, "DELETE", f"/v1.0/users/{HUDDLE}/events/{first[1]['id']}", token)[0] == 204
    status, _, changes = follow(tenant, delta, token)
    updated = {e["id"] for e in changes["value"] if "@removed" not in e}
    removed = [e for e in changes["value"] if "@removed" in e]
    assert updated == {booked["id"], first[0]["id"]}
    assert [(e["id"], e["@removed"]) for e in removed] == [(first[1]["id"],
                                                             {"reason": "deleted"})]
    status, _, after = follow(tenant, changes["@odata.deltaLink"], token)
    assert after["value"] == []


def test_select_limits_the_fields(tenant, token):
    start = now(tenant)
    status, headers, body = view(tenant, token, BOARD, start - 2 * 86400, start + 5 * 86400,
                                 "&$select=subject,isCancelled")
    assert status == 200 and body["value"]
    assert body["@odata.context"].endswith(f"users('{urllib.parse.quote(BOARD, safe='')}')/"
                                           "calendarView(subject,isCancelled)")
    for e in body["value"]:
        assert set(e) == {"@odata.etag", "id", "subject", "isCancelled"}
    assert headers["Content-Type"].startswith("application/json;odata.metadata=minimal")
    assert headers["OData-Version"] == "4.0"
    status, headers, body = view(tenant, token, BOARD, start, start + 60, "&$select=subjekt")
    assert_graph_error(status, headers, body, 400, "RequestBroker--ParseUri")


def test_prefer_outlook_timezone(tenant, token):
    base = day_slot(tenant, 5)
    made = add_event(tenant, room=HUDDLE, start=iso(base), minutes=45, subject="Zones")
    cid = str(uuid.uuid4())
    status, headers, utc = view(tenant, token, HUDDLE, base, base + 60, "&$select=start,end",
                                headers={"client-request-id": cid})
    assert status == 200 and "Preference-Applied" not in headers
    assert headers["client-request-id"] == cid and GUID.fullmatch(headers["request-id"])
    event = next(e for e in utc["value"] if e["id"] == made["id"])
    assert event["start"] == {"dateTime": dt.datetime.fromtimestamp(
        base, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}
    for zone in ("Europe/Amsterdam", "W. Europe Standard Time"):
        status, headers, local = view(tenant, token, HUDDLE, base, base + 60,
                                      "&$select=start,end",
                                      headers={"Prefer": f'outlook.timezone="{zone}"'})
        assert headers["Preference-Applied"] == f'outlook.timezone="{zone}"'
        event = next(e for e in local["value"] if e["id"] == made["id"])
        want = dt.datetime.fromtimestamp(base + 45 * 60, AMS).strftime("%Y-%m-%dT%H:%M:%S")
        assert event["end"] == {"dateTime": want + ".0000000", "timeZone": zone}
        assert GRAPH_TIME.fullmatch(event["start"]["dateTime"])
    status, headers, body = view(tenant, token, HUDDLE, base, base + 60,
                                 headers={"Prefer": 'outlook.timezone="Mars Standard Time"'})
    assert_graph_error(status, headers, body, 400, "TimeZoneNotSupportedException")


def test_calendar_view_validation(tenant, token):
    status, headers, body = call(tenant, "GET", f"/v1.0/users/{BOARD}/calendarView", token)
    err = assert_graph_error(status, headers, body, 400, "ErrorInvalidParameter")
    assert err["message"] == ("This request requires a time window specified by the query "
                              "string parameters StartDateTime and EndDateTime.")
    status, headers, body = call(tenant, "GET", f"/v1.0/users/{BOARD}/calendarView?"
                                 "startDateTime=yesterday&endDateTime=2026-01-01", token)
    assert_graph_error(status, headers, body, 400, "ErrorInvalidParameter")
    status, headers, body = call(tenant, "GET", f"/v1.0/users/{BOARD}/calendarView?startDate"
                                 "Time=2026-01-01&endDateTime=2026-01-02&$top=lots", token)
    assert_graph_error(status, headers, body, 400, "BadRequest")
    # Graph's paths and query names are case-insensitive; an offset may arrive as a space
    status, _, body = call(tenant, "GET", f"/V1.0/USERS/{BOARD.upper()}/CALENDAR/CALENDARVIEW?"
                           "startdatetime=2026-01-01T00:00:00+01:00&ENDDATETIME=2026-01-02",
                           token)
    assert status == 200 and body["value"] == []
    status, headers, body = call(tenant, "GET", f"/v1.0/users/{BOARD}/calendarViews", token)
    assert_graph_error(status, headers, body, 400, "BadRequest")
    status, headers, body = call(tenant, "DELETE", f"/v1.0/users/{BOARD}/calendarView", token)
    assert_graph_error(status, headers, body, 405, "BadRequest")


def test_recurring_series_is_expanded(tenant, token):
    start = now(tenant)
    status, _, body = view(tenant, token, BOARD, start - 3 * 86400, start + 6 * 86400,
                           "&$top=50&$select=subject,type,seriesMasterId,start")
    ups = [e for e in body["value"] if e["type"] == "occurrence"]
    assert len(ups) == 5  # days -1 to 3 of the seed
    assert len({e["seriesMasterId"] for e in ups}) == 1
    assert {e["subject"] for e in ups} == {"Ines Duarte"}  # organizer as subject
    locals_ = {dt.datetime.fromtimestamp(epoch(e["start"]["dateTime"][:19] + "Z"), AMS)
               .strftime("%H:%M") for e in ups}
    assert locals_ == {"07:30"}  # office time, whatever the season
    status, _, master = call(tenant, "GET", f"/v1.0/users/{BOARD}/events/"
                                            f"{ups[0]['seriesMasterId']}", token)
    assert status == 200 and master["type"] == "seriesMaster"
    assert master["recurrence"]["pattern"]["type"] == "daily"
    assert master["recurrence"]["range"]["numberOfOccurrences"] == 5
    status, _, occ = call(tenant, "GET", f"/v1.0/users/{BOARD}/events/{ups[2]['id']}", token)
    assert status == 200 and occ["type"] == "occurrence" and occ["recurrence"] is None
    # one occurrence moved: it becomes an exception, the others stay
    new_end = epoch(occ["end"]["dateTime"][:19] + "Z") + 600
    status, _, moved = call(tenant, "PATCH", f"/v1.0/users/{BOARD}/events/{ups[2]['id']}",
                            token, {"end": {"dateTime": iso(new_end)[:-1], "timeZone": "UTC"}})
    assert status == 200 and moved["type"] == "exception"
    assert moved["end"]["dateTime"].startswith(iso(new_end)[:-1])
    status, _, again = view(tenant, token, BOARD, start - 3 * 86400, start + 6 * 86400,
                            "&$top=50&$select=type,end")
    kinds = [e["type"] for e in again["value"] if e["id"] in {u["id"] for u in ups}]
    assert sorted(kinds) == ["exception", "occurrence", "occurrence", "occurrence", "occurrence"]


def test_room_processing_and_privacy(tenant, token):
    base = day_slot(tenant, 7)
    spec = {"start": iso(base), "minutes": 30, "subject": "Salary talks", "organizer": INES,
            "private": True, "body": "Bring the numbers."}
    on_board = add_event(tenant, room=BOARD, **spec)
    on_huddle = add_event(tenant, room=HUDDLE, **spec)
    on_studio = add_event(tenant, room=STUDIO, **spec)
    assert on_board["original_subject"] == "Salary talks"
    seen = {}
    for room in (BOARD, HUDDLE, STUDIO):
        status, _, body = view(tenant, token, room, base, base + 60)
        seen[room] = next(e for e in body["value"]
                          if e["id"] in (on_board["id"], on_huddle["id"], on_studio["id"]))
    assert seen[BOARD]["subject"] == "Ines Duarte"  # AddOrganizerToSubject + DeleteSubject
    assert seen[BOARD]["sensitivity"] == "private"  # RemovePrivateProperty off
    assert seen[HUDDLE]["subject"] == "Salary talks"  # both off: the organizer's subject
    assert seen[HUDDLE]["sensitivity"] == "normal"  # RemovePrivateProperty (the default)
    assert seen[STUDIO]["subject"] == "Ines Duarte Salary talks"  # DeleteSubject off
    for e in seen.values():
        assert e["organizer"]["emailAddress"] == {"name": "Ines Duarte", "address": INES}
        assert e["isOrganizer"] is False and e["responseStatus"]["response"] == "accepted"
        assert e["body"]["content"] == "" and e["bodyPreview"] == ""  # DeleteComments
    # cancelled meetings stay in the calendar, marked, until removed
    gone = add_event(tenant, room=BOARD, start=iso(base + 3600), minutes=30, subject="Off",
                     organizer=OMAR, cancelled=True)
    status, _, body = view(tenant, token, BOARD, base + 3600, base + 3700)
    event = next(e for e in body["value"] if e["id"] == gone["id"])
    assert event["isCancelled"] is True and event["subject"] == "Canceled: Omar Haddad"
    assert event["showAs"] == "free"


# -- writes -------------------------------------------------------------------------------------


def test_book_extend_and_delete(tenant, token):
    base = day_slot(tenant, 9)
    local = dt.datetime.fromtimestamp(base, AMS).strftime("%Y-%m-%dT%H:%M:%S")
    status, headers, made = call(tenant, "POST", f"/v1.0/users/{HUDDLE}/calendar/events", token, {
        "subject": "Booked at the door",
        "start": {"dateTime": local, "timeZone": "Europe/Amsterdam"},
        "end": {"dateTime": iso(base + 1800)[:-1], "timeZone": "UTC"},
        "body": {"contentType": "text", "content": "Booked from the panel"}})
    assert status == 201, made
    assert headers["Location"].startswith(tenant.base + "/v1.0/Users(")
    assert made["@odata.context"].endswith("/events/$entity")
    assert made["subject"] == "Booked at the door"  # written directly: not processed
    assert made["isOrganizer"] is True and made["type"] == "singleInstance"
    assert made["organizer"]["emailAddress"]["address"] == HUDDLE
    assert made["originalStartTimeZone"] == "W. Europe Standard Time"
    assert made["originalEndTimeZone"] == "UTC"
    assert made["start"]["dateTime"] == iso(base)[:-1] + ".0000000"
    status, _, body = view(tenant, token, HUDDLE, base, base + 60)
    assert made["id"] in [e["id"] for e in body["value"]]
    path = f"/v1.0/users/{HUDDLE}/events/{urllib.parse.quote(made['id'], safe='')}"
    status, _, longer = call(tenant, "PATCH", path, token,
                             {"end": {"dateTime": iso(base + 3600)[:-1], "timeZone": "UTC"}})
    assert status == 200, longer
    assert longer["end"]["dateTime"] == iso(base + 3600)[:-1] + ".0000000"
    assert longer["changeKey"] != made["changeKey"]
    assert longer["@odata.etag"] == f'W/"{longer["changeKey"]}"'
    assert longer["lastModifiedDateTime"] >= made["lastModifiedDateTime"]
    status, _, got = call(tenant, "GET", path, token)
    assert got["end"] == longer["end"] and got["subject"] == "Booked at the door"
    status, _, body = call(tenant, "DELETE", path, token)
    assert status == 204 and body is None
    assert call(tenant, "GET", path, token)[0] == 404
    # a conflicting booking is allowed: Graph writes it (no auto-accept in between)
    first = call(tenant, "POST", f"/v1.0/users/{HUDDLE}/events", token, {
        "subject": "A", "start": {"dateTime": iso(base)[:-1], "timeZone": "UTC"},
        "end": {"dateTime": iso(base + 900)[:-1], "timeZone": "UTC"}})
    second = call(tenant, "POST", f"/v1.0/users/{HUDDLE}/events", token, {
        "subject": "B", "start": {"dateTime": iso(base)[:-1], "timeZone": "UTC"},
        "end": {"dateTime": iso(base + 900)[:-1], "timeZone": "UTC"}})
    assert first[0] == second[0] == 201


def test_event_validation(tenant, token):
    events = f"/v1.0/users/{HUDDLE}/events"
    when = {"dateTime": "2030-01-01T10:00:00", "timeZone": "UTC"}
    status, headers, body = call(tenant, "POST", events, token, {
        "subject": "x", "start": {"dateTime": "2030-01-01T10:00:00"}, "end": when})
    err = assert_graph_error(status, headers, body, 400, "TimeZoneNotSupportedException")
    assert err["message"].endswith("The following TimeZone value is not supported: ''.")
    status, headers, body = call(tenant, "POST", events, token, {
        "subject": "x", "start": when, "end": {"dateTime": "2030-01-01T09:00:00",
                                                "timeZone": "UTC"}})
    assert_graph_error(status, headers, body, 400, "ErrorPropertyValidationFailure")
    status, headers, body = call(tenant, "POST", events, token, {"subject": "x", "start": when})
    assert_graph_error(status, headers, body, 400, "ErrorPropertyValidationFailure")
    status, headers, body = call(tenant, "POST", events, token, {
        "subjekt": "x", "start": when, "end": when})
    err = assert_graph_error(status, headers, body, 400, "RequestBodyRead")
    assert "'subjekt' does not exist on type 'microsoft.graph.event'" in err["message"]
    status, headers, body = call(tenant, "POST", events, token, {
        "subject": 7, "start": when, "end": when})
    assert_graph_error(status, headers, body, 400, "RequestBodyRead")
    status, headers, body = call(tenant, "POST", events, token, raw=b'{"subject": "x",')
    assert_graph_error(status, headers, body, 400, "RequestBodyRead")
    status, headers, body = call(tenant, "POST", events, token, raw=b"")
    assert_graph_error(status, headers, body, 400, "BadRequest")


def test_decline_a_no_show(tenant, token):
    admin(tenant, "DELETE", "/_admin/outbox")
    made = add_event(tenant, room=BOARD, start={"in_min": -12}, minutes=60,
                     subject="Quarterly numbers", organizer=OMAR)
    start = epoch(made["start"])
    assert abs(start - (now(tenant) - 12 * 60)) < 5  # it started 12 minutes ago
    path = f"/v1.0/users/{BOARD}/events/{made['id']}/decline"
    status, _, body = call(tenant, "POST", path, token,
                           {"comment": "Released: nobody checked in.", "sendResponse": True})
    assert status == 202 and body is None
    status, _, cal = view(tenant, token, BOARD, start, start + 60)
    assert made["id"] not in [e["id"] for e in cal["value"]]
    outbox = admin(tenant, "GET", "/_admin/outbox")
    assert len(outbox) == 1
    notice = outbox[0]
    assert notice["kind"] == "decline" and notice["from"]["address"] == BOARD
    assert notice["to"] == [{"name": "Omar Haddad", "address": OMAR}]
    assert notice["subject"] == "Declined: Quarterly numbers"  # the organizer's own subject
    assert notice["body"] == "Released: nobody checked in."
    # without a response, nobody hears of it
    quiet = add_event(tenant, room=BOARD, start={"in_min": -15}, minutes=30, subject="Quiet",
                      organizer=INES)
    assert call(tenant, "POST", f"/v1.0/users/{BOARD}/events/{quiet['id']}/decline", token,
                {"sendResponse": False})[0] == 202
    assert len(admin(tenant, "GET", "/_admin/outbox")) == 1
    # the room cannot decline its own booking; a bad parameter is Graph's RequestBodyRead
    own = add_event(tenant, room=BOARD, start={"in_min": 5}, minutes=30, subject="Own")
    status, headers, body = call(tenant, "POST", f"/v1.0/users/{BOARD}/events/{own['id']}/"
                                 "decline", token, {"comment": "x"})
    assert_graph_error(status, headers, body, 400, "ErrorInvalidRequest")
    status, headers, body = call(tenant, "POST", f"/v1.0/users/{BOARD}/events/{own['id']}/"
                                 "decline", token, {"reason": "x"})
    assert_graph_error(status, headers, body, 400, "RequestBodyRead")


def test_send_mail_lands_in_the_outbox(tenant, token):
    admin(tenant, "DELETE", "/_admin/outbox")
    mail = {"message": {"subject": "Coffee for 4.12",
                        "body": {"contentType": "Text", "content": "Two pots, please."},
                        "toRecipients": [{"emailAddress": {"address": "desk@fabrikam.example",
                                                           "name": "Service desk"}}],
                        "ccRecipients": [{"emailAddress": {"address": INES}}]},
            "saveToSentItems": "false"}
    status, _, body = call(tenant, "POST", "/v1.0/me/sendMail", token, mail)
    assert status == 202 and body is None
    [sent] = admin(tenant, "GET", "/_admin/outbox")
    assert sent["kind"] == "mail" and sent["from"]["address"] == SERVICE
    assert sent["to"] == [{"name": "Service desk", "address": "desk@fabrikam.example"}]
    assert sent["cc"] == [{"name": INES, "address": INES}]
    assert (sent["subject"], sent["body"], sent["content_type"]) == (
        "Coffee for 4.12", "Two pots, please.", "text")
    assert sent["save_to_sent_items"] is False and sent["time"].endswith("Z")
    status, headers, body = call(tenant, "POST", f"/v1.0/users/{SERVICE}/sendMail", token,
                                 {"message": {"subject": "nobody"}})
    err = assert_graph_error(status, headers, body, 400, "ErrorInvalidRecipients")
    assert "contains no recipients" in err["message"]
    status, headers, body = call(tenant, "POST", "/v1.0/me/sendMail", token, raw=b"{message")
    assert_graph_error(status, headers, body, 400, "RequestBodyRead")
    # as a room: Mail.Send is not enough, Mail.Send.Shared needs the room's SendAs right
    status, headers, body = call(tenant, "POST", f"/v1.0/users/{STUDIO}/sendMail", token, mail)
    assert_graph_error(status, headers, body, 403, "ErrorAccessDenied")
    shared = sign_in(tenant, "Mail.Send.Shared")
    assert call(tenant, "POST", f"/v1.0/users/{STUDIO}/sendMail", shared, mail)[0] == 202
    status, headers, body = call(tenant, "POST", f"/v1.0/users/{VAULT}/sendMail", shared, mail)
    assert_graph_error(status, headers, body, 403, "ErrorSendAsDenied")
    outbox = admin(tenant, "GET", "/_admin/outbox")
    assert [m["from"]["address"] for m in outbox] == [SERVICE, STUDIO]  # newest last
    assert admin(tenant, "DELETE", "/_admin/outbox") == {"cleared": 2}


# -- getSchedule, places, users -----------------------------------------------------------------


def test_get_schedule(tenant, token):
    base = day_slot(tenant, 11)
    add_event(tenant, room=BOARD, start=iso(base), minutes=60, subject="Busy hour",
              organizer=OMAR)
    add_event(tenant, room=BOARD, start=iso(base + 5400), minutes=30, subject="Maybe",
              organizer=INES, show_as="tentative", private=True)
    add_event(tenant, room=VAULT, start=iso(base + 1800), minutes=30, subject="Hidden",
              organizer=OMAR)
    request = {"schedules": [BOARD, VAULT, "ghost@fabrikam.example"],
               "startTime": {"dateTime": iso(base - 1800)[:-1], "timeZone": "UTC"},
               "endTime": {"dateTime": iso(base + 7200)[:-1], "timeZone": "UTC"},
               "availabilityViewInterval": 30}
    status, headers, body = call(tenant, "POST", "/v1.0/me/calendar/getSchedule", token, request,
                                 headers={"Prefer": 'outlook.timezone="Europe/Amsterdam"'})
    assert status == 200, body
    assert body["@odata.context"].endswith("#Collection(microsoft.graph.scheduleInformation)")
    board, vault, ghost = body["value"]
    assert board["scheduleId"] == BOARD and board["availabilityView"] == "02201"
    busy = board["scheduleItems"][0]
    assert busy["isPrivate"] is False and busy["status"] == "busy"
    assert busy["subject"] == "Omar Haddad" and busy["location"] == "Board room"
    assert busy["start"] == {"dateTime": dt.datetime.fromtimestamp(base, AMS).strftime(
        "%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "Europe/Amsterdam"}
    maybe = board["scheduleItems"][1]
    assert maybe["isPrivate"] is True and "subject" not in maybe and maybe["status"] == "tentative"
    assert board["workingHours"]["timeZone"] == {"name": "W. Europe Standard Time"}
    # no rights on the vault: free/busy only
    assert vault["availabilityView"] == "00200"
    assert set(vault["scheduleItems"][0]) == {"status", "start", "end"}
    assert ghost["scheduleId"] == "ghost@fabrikam.example" and ghost["error"]["message"]
    assert "availabilityView" not in ghost
    for bad, code in (({**request, "availabilityViewInterval": 3}, "ErrorInvalidParameter"),
                      ({**request, "schedules": []}, "ErrorInvalidParameter"),
                      ({k: v for k, v in request.items() if k != "startTime"},
                       "ErrorInvalidParameter"),
                      ({**request, "startTime": {"dateTime": "2030-01-01T00:00:00"}},
                       "TimeZoneNotSupportedException")):
        status, headers, body = call(tenant, "POST", "/v1.0/me/calendar/getSchedule", token, bad)
        assert_graph_error(status, headers, body, 400, code)
    status, headers, body = call(tenant, "POST", "/v1.0/me/calendar/getSchedule", token,
                                 raw=b'{"schedules": [')
    assert_graph_error(status, headers, body, 400, "RequestBodyRead")


def test_places(tenant, token):
    status, _, lists = call(tenant, "GET", "/v1.0/places/microsoft.graph.roomlist", token)
    assert status == 200
    assert [rl["emailAddress"] for rl in lists["value"]] == ["floor-2@fabrikam.example",
                                                            "floor-1@fabrikam.example"]
    assert set(lists["value"][0]) == {"id", "displayName", "address", "geoCoordinates",
                                      "phone", "emailAddress"}
    status, _, rooms = call(tenant, "GET", "/v1.0/places/floor-2%40fabrikam.example/"
                                           "microsoft.graph.roomlist/rooms", token)
    assert status == 200
    assert [r["emailAddress"] for r in rooms["value"]] == [BOARD, HUDDLE, STUDIO]
    board = rooms["value"][0]
    assert board["displayName"] == "Board room" and board["capacity"] == 12
    assert board["floorNumber"] == 2 and board["building"] == "HQ"
    assert {"bookingType", "isWheelChairAccessible", "tags", "displayDeviceName",
            "videoDeviceName", "audioDeviceName", "label", "nickname"} <= set(board)
    status, _, every = call(tenant, "GET", "/v1.0/places/microsoft.graph.room?$top=3", token)
    assert len(every["value"]) == 3 and "$skip=3" in urllib.parse.unquote(
        every["@odata.nextLink"])
    status, _, rest = follow(tenant, every["@odata.nextLink"], token)
    assert [r["emailAddress"] for r in rest["value"]] == [VAULT]
    status, headers, body = call(tenant, "GET", "/v1.0/places/nowhere@fabrikam.example/"
                                 "microsoft.graph.roomlist/rooms", token)
    assert_graph_error(status, headers, body, 404, "ErrorItemNotFound")


def test_users(tenant, token):
    status, _, me = call(tenant, "GET", "/v1.0/me", token)
    assert status == 200 and me["userPrincipalName"] == SERVICE
    assert me["@odata.context"].endswith("$metadata#users/$entity")
    assert list(me)[1:] == ["businessPhones", "displayName", "givenName", "jobTitle", "mail",
                            "mobilePhone", "officeLocation", "preferredLanguage", "surname",
                            "userPrincipalName", "id"]
    status, _, ines = call(tenant, "GET", f"/v1.0/users/{INES}?$select=displayName,mail", token)
    assert status == 200 and ines["displayName"] == "Ines Duarte"
    assert set(ines) == {"@odata.context", "displayName", "mail", "id"}
    status, _, room = call(tenant, "GET", f"/v1.0/users/{BOARD}", token)
    assert status == 200 and room["displayName"] == "Board room" and room["mail"] == BOARD
    status, headers, body = call(tenant, "GET", "/v1.0/users/ghost@fabrikam.example", token)
    assert_graph_error(status, headers, body, 404, "Request_ResourceNotFound")


# -- faults, extra domains ----------------------------------------------------------------------


def test_injected_throttling_keeps_graphs_shape(tenant, token):
    start = now(tenant)
    admin(tenant, "POST", "/_admin/faults", {"path": "/v1.0/users/*/calendar/calendarView",
                                            "status": 429, "retry_after": 7})
    status, headers, body = view(tenant, token, BOARD, start, start + 60)
    err = assert_graph_error(status, headers, body, 429, "ApplicationThrottled")
    assert err["message"] == "Application is over its MailboxConcurrency limit."
    assert headers["Retry-After"] == "7"
    assert view(tenant, token, BOARD, start, start + 60)[0] == 200  # one-shot
    admin(tenant, "POST", "/_admin/faults", {"path": "/v1.0/places/*", "status": 503})
    status, headers, body = call(tenant, "GET", "/v1.0/places/microsoft.graph.room", token)
    assert_graph_error(status, headers, body, 503, "serviceNotAvailable")
    log = admin(tenant, "GET", "/_admin/requests?limit=3")
    assert [(r["fault"], r["error"]) for r in log] == [
        ("status", "ApplicationThrottled"), (None, None), ("status", "serviceNotAvailable")]


def test_extra_tenant_domain_and_admin_checks(tenant):
    status, _, raw = tenant.request("GET", "/rooms.fabrikam.example/v2.0/.well-known/"
                                           "openid-configuration")
    assert status == 200 and json.loads(raw)["issuer"] == f"{tenant.authority}/v2.0"
    error = admin(tenant, "POST", "/_admin/events", {"room": BOARD, "start": "7 o'clock"},
                  expect=(400,))["error"]
    assert error.startswith("event.start: ")
    admin(tenant, "GET", "/_admin/events?room=ghost@fabrikam.example", expect=(404,))
    rooms = admin(tenant, "GET", "/_admin/rooms")
    assert rooms["timezone"] == "Europe/Amsterdam"
    studio = next(r for r in rooms["rooms"] if r["address"] == STUDIO)
    assert studio["room_lists"] == ["floor-2@fabrikam.example"] and studio["send_as"] is True
    stored = admin(tenant, "GET", f"/_admin/events?room={VAULT}")
    assert stored[0]["subject"] == "Omar Haddad" and stored[0]["original_subject"] == \
        "Vault audit"
