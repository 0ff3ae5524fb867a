# The Graph client (app/graph.py) and the wake's token handling (app/tokens.Auth), in the real
# Unix-port MicroPython against the fake tenant: reads, writes, paging, and every answer a room
# panel must understand (401, 403, 404, 429, 5xx, damaged bodies).
import binascii
import json
import time

from m365_helpers import TestBoard, admin, backend, cfg, raises, session, signed_in

from app import clock, entra, graph, http_errors, tokens
from app.backend import BackendError

ROOM = "room-3.12@contoso.example"  # editor rights for the service account; cleared per test
READ_ONLY = "room-4.08@contoso.example"  # reviewer rights
NO_RIGHTS = "room-3.10@contoso.example"  # none
_signed_in = False


def auth(s):
    """tokens.Auth over a real token store, signed in (once per module) for real."""
    global _signed_in
    board = TestBoard()
    board.mount_cfg()
    if board.device_key() is None:
        board.store_device_key(b"g" * 32, b"graph-01")
    store = tokens.TokenStore(board, backend())
    if not _signed_in:
        store.save(signed_in(s)[1])
        _signed_in = True
    return tokens.Auth(s, backend(), store, store.load())


def client(s, a=None):
    return graph.Graph(s, cfg()["base_url"], a or auth(s))


def claims_of(access_token):
    payload = access_token.split(".")[1].replace("-", "+").replace("_", "/")
    return json.loads(binascii.a2b_base64(payload + "=" * (-len(payload) % 4)))


def fresh_room(*events):
    admin("DELETE", "events?room=" + ROOM)
    if events:
        admin("POST", "events", [dict(e, room=ROOM) for e in events])


def day(g, mailbox=ROOM):
    now = clock.now()
    out = []
    g.calendar_view(mailbox, now - 86400, now + 86400, out.append)
    return out


def test_the_room_calendar_arrives_compact_in_utc_ordered_and_paged():
    fresh_room(*[{"start": {"in_min": 60 * i - 600}, "minutes": 30, "subject": "Meeting %d" % i,
                  "organizer": "amara.okafor@contoso.example"} for i in range(14)])
    with session() as s:
        g = client(s)
        old = graph.PAGE_SIZE
        graph.PAGE_SIZE = 5  # three pages through @odata.nextLink, one connection
        try:
            events = day(g)
        finally:
            graph.PAGE_SIZE = old
        assert s.stats["requests"] == 3 and s.stats["tls_handshakes"] == 1
    assert len(events) == 14
    assert [e["start"] for e in events] == sorted(e["start"] for e in events)
    e = events[0]
    assert sorted(e) == ["all_day", "cancelled", "end", "id", "organizer",
                         "organizer_address", "private", "show_as", "start", "subject"]
    assert e["end"] - e["start"] == 1800 and abs(e["start"] - (clock.now() - 36000)) < 120
    # The room's processing: the organizer's name replaces the subject.
    assert e["organizer"] == "Amara Okafor" and e["subject"] == "Amara Okafor"


def test_private_all_day_and_cancelled_meetings_keep_their_flags():
    fresh_room({"start": {"in_min": 10}, "minutes": 30, "subject": "Salary review",
                "organizer": "amara.okafor@contoso.example", "private": True},
               {"start": {"in_min": 60}, "minutes": 30, "subject": "Gone",
                "organizer": "amara.okafor@contoso.example", "cancelled": True})
    with session() as s:
        events = day(client(s))
    flags = sorted((e["private"], e["cancelled"], e["show_as"]) for e in events)
    # The room removes the private flag by default (RemovePrivateProperty): not private here.
    assert (False, True, "free") in flags and len(events) == 2


def test_book_extend_end_and_release_are_what_graph_then_shows():
    fresh_room({"start": {"in_min": -12}, "minutes": 60, "subject": "Planning",
                "organizer": "amara.okafor@contoso.example"})
    with session() as s:
        g = client(s)
        now = clock.now()
        booked = g.create_event(ROOM, "Booked at the door", now + 3600, now + 4500)
        assert booked["subject"] == "Booked at the door" and booked["end"] == now + 4500
        assert booked["id"] in [e["id"] for e in day(g)]
        longer = g.move_end(ROOM, booked["id"], now + 5400)
        assert longer["end"] == now + 5400 and longer["start"] == now + 3600
        shorter = g.move_end(ROOM, booked["id"], now + 3900)
        assert shorter["end"] == now + 3900
        no_show = [e for e in day(g) if e["organizer"] == "Amara Okafor"][0]
        g.decline(ROOM, no_show["id"], "Released by the door panel")
        assert no_show["id"] not in [e["id"] for e in day(g)]
    notice = admin("GET", "outbox")[-1]
    assert notice["kind"] == "decline" and notice["subject"] == "Declined: Planning"
    assert notice["to"][0]["address"] == "amara.okafor@contoso.example"
    assert notice["body"] == "Released by the door panel"


def test_a_service_request_lands_in_the_outbox():
    with session() as s:
        client(s).send_mail({"address": "facilities@contoso.example", "name": "Facilities"},
                            "More coffee", "Requested at the door panel of Boardroom 3.12.")
    mail = admin("GET", "outbox")[-1]
    assert mail["kind"] == "mail" and mail["subject"] == "More coffee"
    assert mail["to"] == [{"name": "Facilities", "address": "facilities@contoso.example"}]
    assert mail["from"]["address"].startswith("lintel.panels@")
    assert "Boardroom 3.12" in mail["body"]


def test_room_lists_their_rooms_and_free_busy():
    fresh_room({"start": {"in_min": -5}, "minutes": 60, "subject": "Busy now",
                "organizer": "amara.okafor@contoso.example"})
    with session() as s:
        g = client(s)
        lists, rooms, schedule = [], [], []
        g.room_lists(lists.append)
        g.rooms_in("rooms-floor-3@contoso.example", rooms.append)
        now = clock.now()
        g.schedule([ROOM, "nobody@contoso.example"], now, now + 3600, 15, schedule.append)
    assert {x["address"] for x in lists} == {"rooms-floor-4@contoso.example",
                                             "rooms-floor-3@contoso.example"}
    assert ROOM in [r["address"] for r in rooms] and all(r["name"] for r in rooms)
    assert schedule[0]["address"] == ROOM and schedule[0]["view"][0] == "2"
    assert schedule[1]["error"] is not None and schedule[1]["view"] in (None, "")


def test_a_401_renews_the_access_token_once_and_the_new_tokens_are_stored():
    with session() as s:
        a = auth(s)
        a.tokens = dict(a.tokens, access_token="not-a-real-access-token")
        before = a.tokens["refresh_token"]
        day(client(s, a))  # 401, renew, again: 200
        assert a.tokens["access_token"] != "not-a-real-access-token"
        assert a.tokens["refresh_token"] != before  # rotated, and stored at once
        assert a.store.load()["refresh_token"] == a.tokens["refresh_token"]
        assert a.store.load()["account"]["upn"].startswith("lintel.panels@")  # kept


def test_an_access_token_near_its_end_is_refreshed_before_use():
    with session() as s:
        a = auth(s)
        a.tokens = dict(a.tokens, expires_at=clock.now() + 60)
        day(client(s, a))
        assert a.tokens["expires_at"] > clock.now() + 3000


def test_no_rights_read_only_and_unknown_mailboxes_are_distinct_errors():
    with session() as s:
        g = client(s)
        e = raises(BackendError, day, g, NO_RIGHTS)
        assert e.kind == "forbidden" and e.status == 403 and e.code == "ErrorAccessDenied"
        now = clock.now()
        e = raises(BackendError, g.create_event, READ_ONLY, "x", now, now + 900)
        assert e.kind == "forbidden"
        e = raises(BackendError, day, g, "nobody@contoso.example")
        assert e.kind == "not_found" and e.status == 404
        # The admin grants the right (Add-MailboxFolderPermission): the next read works.
        admin("POST", "rooms/rights", {"room": NO_RIGHTS, "delegate": "editor"})
        try:
            day(g, NO_RIGHTS)
        finally:
            admin("POST", "rooms/rights", {"room": NO_RIGHTS, "delegate": "none"})


def test_throttling_short_waits_are_waited_out_long_ones_are_reported():
    path = "/v1.0/users/*/calendar/calendarView"
    with session() as s:
        g = client(s)
        admin("POST", "faults", {"path": path, "status": 429, "retry_after": "0.5"})
        started = time.ticks_ms()
        day(g)  # waited 0.5 s, then the answer
        assert time.ticks_diff(time.ticks_ms(), started) >= 500
        admin("POST", "faults", {"path": path, "status": 429, "retry_after": "120"})
        e = raises(BackendError, day, g)
        assert e.kind == "throttled" and e.retry_after == 120 and e.code == "ApplicationThrottled"
        admin("POST", "faults", {"path": path, "status": 503, "retry_after": "7200"})
        e = raises(BackendError, day, g)
        assert e.retry_after == graph.RETRY_AFTER_CAP
        admin("POST", "faults", {"path": path, "status": 500})
        e = raises(BackendError, day, g)
        assert e.kind == "unavailable" and e.retry_after == 60
        day(g)  # every fault was one-shot: the room reads again


def test_damaged_truncated_and_reset_answers_are_errors_with_words():
    path = "/v1.0/users/*/calendar/calendarView"
    with session() as s:
        g = client(s)
        for kind, error in (("malformed", http_errors.JsonError),
                            ("truncate", http_errors.HttpError),
                            ("reset", http_errors.HttpError)):
            admin("POST", "faults", {"path": path, "kind": kind})
            e = raises(error, day, g)
            assert str(e) and "eyJ" not in str(e), (kind, str(e))
        day(g)


def test_a_next_page_on_another_host_is_refused_not_followed():
    body = {"value": [], "@odata.nextLink": "https://graph.evil.example/v1.0/steal"}
    admin("POST", "faults", {"path": "/v1.0/users/*/calendar/calendarView", "status": 200,
                             "body": body})
    with session() as s:
        e = raises(BackendError, day, client(s))
        assert e.kind == "bad_response" and "another host" in e.words


def test_a_second_401_after_a_refresh_means_signing_in_again():
    admin("POST", "faults", {"path": "/v1.0/users/*/calendar/calendarView", "status": 401,
                             "times": 2})
    with session() as s:
        e = raises(entra.SignInRequired, day, client(s))
        assert "even after a refresh" in e.words
        day(client(s))


def test_tokens_declare_cae_so_they_last_a_day():
    with session() as s:
        a = auth(s)
        assert claims_of(a.tokens["access_token"])["xms_cc"] == ["cp1"]
        assert a.tokens["expires_at"] > clock.now() + 20 * 3600
        a.renew()
        assert claims_of(a.tokens["access_token"])["xms_cc"] == ["cp1"]


def test_claims_challenges_are_read_from_www_authenticate():
    asked = {"access_token": {"nbf": {"essential": True, "value": "1796018700"}}}
    b64 = binascii.b2a_base64(json.dumps(asked).encode()).decode().strip()
    head = 'Bearer realm="", authorization_uri="https://login.example/authorize", ' \
        'client_id="00000003-0000-0000-c000-000000000000"'
    assert graph.claims_challenge(head + ', error="insufficient_claims", claims="%s"'
                                  % b64) == asked
    url_safe = b64.rstrip("=").replace("+", "-").replace("/", "_")
    assert graph.claims_challenge(head + ', error="insufficient_claims", claims="%s"'
                                  % url_safe) == asked
    for other in (None, "", head, head + ', error="invalid_token"',
                  head + ', error="insufficient_claims"',
                  head + ', error="insufficient_claims", claims="%%%%"',
                  head + ', error="insufficient_claims", claims="%s"' % binascii.b2a_base64(
                      b"[1, 2]").decode().strip(),
                  head + ', error="insufficient_claims", claims="unterminated'):
        assert graph.claims_challenge(other) is None, other
    # The token request answering it asks for those claims and keeps the capability.
    merged = json.loads(entra.claims_request(asked))["access_token"]
    assert merged == {"nbf": asked["access_token"]["nbf"], "xms_cc": {"values": ["cp1"]}}
    assert json.loads(entra.claims_request()) == {"access_token": {"xms_cc": {"values": ["cp1"]}}}


def test_a_claims_challenge_is_answered_by_a_refresh_that_carries_its_claims():
    with session() as s:
        a = auth(s)
        g = client(s, a)
        day(g)
        before = a.tokens["access_token"]
        admin("POST", "tokens/challenge", {})
        events = day(g)  # 401 with the challenge, a refresh with its claims, then 200
        assert isinstance(events, list) and a.tokens["access_token"] != before
        assert claims_of(a.tokens["access_token"])["xms_cc"] == ["cp1"]
        assert a.store.load()["access_token"] == a.tokens["access_token"]


def test_a_revoked_sign_in_is_refused_at_once_not_when_the_day_long_token_ends():
    global _signed_in
    with session() as s:
        a = auth(s)
        g = client(s, a)
        day(g)
        admin("POST", "tokens/revoke", {})
        try:
            e = raises(entra.SignInRequired, day, g)
            assert e.code == 50173 and "revoked" in e.words
        finally:
            _signed_in = False  # the next test signs in again
