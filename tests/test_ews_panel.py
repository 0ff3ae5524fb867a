"""The emulated panel on the fake tenant's Exchange Web Services, end to end: a technician pushes
a panel.toml with [backend] type = "ews" and the service account's password, and the panel
shows the seeded day (the same day the Graph side serves), books, extends, ends early, sends a
service request, finds another room, releases a no-show, and handles every fault: the
tenant's injected HTTP faults and EWS error codes, no rights, a wrong password, a locked
account; NTLM and Basic.

One tenant and one panel serve the whole module; tests run in file order.
"""

import json
import time

import pytest

from panel_helpers import (
    AMARA,
    ROOM,
    at_the_room,
    fresh_room,
    iso,
    next_wake,
    offline_until_the_fault_passes,
    provisioned_lab,
    push,
    room_events,
    seconds,
    shown_problem,
    view_after_wake,
)

EWS_PATH = "/EWS/Exchange.asmx"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = provisioned_lab(tmp_path_factory.mktemp("ews"))
    yield lab
    lab.stop()


def ews_requests(lab, since):
    return [r for r in lab.admin("GET", f"requests?since={since}") if r["path"] == EWS_PATH]


def last_request_id(lab):
    return lab.admin("GET", "requests?limit=1")[-1]["id"]


def test_the_panel_on_ews_shows_the_seeded_day_without_a_sign_in(lab):
    account = lab.ews_account()
    mark = push(lab, ews="ntlm")
    text = lab.panel.wait_for("screen: room", since=mark)
    assert "sign in:" not in text
    view = lab.panel.view()
    assert view["room"] == {"name": "Boardroom 4.12", "address": ROOM}
    # The same day as the Graph side: the room puts organizers' names in the subjects.
    seeded = room_events(lab)
    organizers = {e["organizer"]["name"] for e in seeded if not e["all_day"]}
    shown = view["agenda"]["today"] + view["agenda"]["tomorrow"]
    assert shown and {e["title"] for e in shown if not e["all_day"]} <= organizers | {
        "Private meeting"}
    # A wake: one connection, one TLS handshake, NTLM's handshake once, then the calls.
    since = last_request_id(lab)
    wake = next_wake(lab)
    assert "1 connections, 1 TLS handshakes" in wake, wake
    calls = ews_requests(lab, since)
    assert calls and all(r["method"] == "POST" for r in calls)
    text = lab.panel.console_text()
    assert account["password"] not in text  # the password never reaches the console


def test_an_all_day_event_is_on_its_own_day(lab):
    # EWS gives an all-day event as the moments of the mailbox's midnights (23:00 UTC the day
    # before, in Amsterdam), where Graph gives its dates: the panel shows it on the same day.
    fresh_room(lab, {"day": 0, "all_day": True, "subject": "Offsite", "organizer": AMARA})
    view = view_after_wake(lab)
    (today,) = view["agenda"]["today"]
    assert today["all_day"] and today["when"] == "All day", today
    assert view["agenda"]["tomorrow"] == []


def test_book_extend_and_end_early(lab):
    fresh_room(lab)
    view = view_after_wake(lab)
    assert view["status"] == "free" and "book" in view["actions"]
    mark = lab.panel.mark()
    lab.panel.press("book")
    lab.panel.wait_for("screen: book | redrawn", since=mark)
    lab.panel.press("book:15")
    lab.panel.wait_for("booked: 15 min", since=mark)
    (booked,) = room_events(lab)
    assert booked["subject"] == "Booked at the panel"
    view = view_after_wake(lab)
    assert view["status"] in ("busy", "checked_in") and view["checked_in"]
    mark = lab.panel.mark()
    lab.panel.press("extend")
    lab.panel.wait_for("screen: book | redrawn", since=mark)
    mark = lab.panel.mark()
    lab.panel.press("extend:15")
    text = lab.panel.wait_for("extended: 15 min", since=mark)
    (extended,) = room_events(lab)
    assert seconds(extended["end"]) - seconds(booked["end"]) == 15 * 60
    lab.panel.wait_for("screen: room", since=mark + text.index("extended: 15 min"))
    lab.panel.press("end")
    lab.panel.wait_for("ended early", since=mark)
    (ended,) = room_events(lab)
    assert seconds(ended["end"]) <= time.time() + 60
    view = view_after_wake(lab)
    assert view["status"] == "free"


def test_a_service_request_is_mailed_to_facilities(lab):
    fresh_room(lab)
    lab.admin("DELETE", "outbox")
    mark = lab.panel.mark()
    lab.panel.press("service")
    lab.panel.wait_for("screen: service | redrawn", since=mark)
    lab.panel.press("service:catering:0")
    lab.panel.wait_for("service request sent: More coffee", since=mark)
    (mail,) = lab.admin("GET", "outbox")
    assert mail["subject"] == "More coffee" and mail["to"][0]["address"] == \
        "facilities@contoso.example"
    assert ROOM in mail["body"] and "Boardroom 4.12" in mail["body"]


def test_find_a_room_lists_the_other_rooms_free_first(lab):
    at_the_room(lab)
    mark = lab.panel.mark()
    lab.panel.press("find")
    lab.panel.wait_for("screen: rooms", since=mark)
    view = lab.panel.view()
    names = [r["name"] for r in view["rooms"]]
    assert "Boardroom 4.12" not in names and "Focus room 3.01" in names  # the override
    assert len(names) == 5  # floor 4's other four rooms and the alternative
    assert all(r["status_text"] != "unknown" for r in view["rooms"])
    free = [r["free"] for r in view["rooms"]]
    assert free == sorted(free, reverse=True)
    at_the_room(lab)


def test_a_no_show_is_released_and_the_organizer_told(lab):
    memory = json.loads((lab.panel.state / "rtc_memory").read_bytes())
    start = max(memory["watching_since"] + 1, int(time.time()) - 70)
    lab.admin("DELETE", "outbox")
    mark = lab.panel.mark()
    fresh_room(lab, {"start": iso(start), "minutes": 30, "subject": "Quarterly planning",
                     "organizer": AMARA})
    lab.panel.wait_for("released: the meeting of", since=mark, timeout=90)
    assert room_events(lab) == []
    (notice,) = lab.admin("GET", "outbox")
    assert notice["kind"] == "decline" and notice["to"][0]["address"] == AMARA


def test_a_no_show_of_the_room_s_own_booking_is_deleted(lab):
    # A booking made in the room's own calendar (at a panel, or by a delegate) has no
    # attendees to decline it for: released, it is deleted.
    memory = json.loads((lab.panel.state / "rtc_memory").read_bytes())
    start = max(memory["watching_since"] + 1, int(time.time()) - 70)
    since = last_request_id(lab)
    mark = lab.panel.mark()
    fresh_room(lab, {"start": iso(start), "minutes": 30, "subject": "Walk-in"})
    lab.panel.wait_for("released: the meeting of", since=mark, timeout=90)
    assert room_events(lab) == []
    operations = [(r.get("form") or {}).get("operation") for r in ews_requests(lab, since)]
    assert "DeleteItem" in operations, operations


@pytest.mark.parametrize("fault, problem", [
    ({"status": 503, "times": 2}, "problem: throttled"),
    ({"status": 500}, "problem: unavailable"),
    ({"kind": "malformed"}, "problem: bad_response | the answer from 127.0.0.1: "),
    ({"kind": "truncate"}, "problem: network"),
    ({"kind": "reset"}, "problem: network"),
])
def test_http_faults_show_a_problem_and_the_panel_recovers_by_itself(lab, fault, problem):
    at_the_room(lab)
    offline_until_the_fault_passes(lab, dict(fault, path=EWS_PATH), problem)


@pytest.mark.parametrize("fault, problem", [
    # Exchange's throttling, as Microsoft documents it: HTTP 500, a SOAP fault ErrorServerBusy
    # with BackOffMilliseconds ("EWS throttling in Exchange").
    ({"status": 500, "code": "ErrorServerBusy", "back_off_ms": 90000},
     "problem: throttled | Exchange asked the panel to slow down (ErrorServerBusy)"),
    ({"kind": "code", "code": "ErrorMailboxStoreUnavailable", "operation": "FindItem"},
     "problem: unavailable | Exchange had a server error (ErrorMailboxStoreUnavailable)"),
])
def test_ews_error_codes_show_a_problem_and_the_panel_recovers_by_itself(lab, fault, problem):
    at_the_room(lab)
    at = offline_until_the_fault_passes(lab, dict(fault, path=EWS_PATH), problem)
    if "back_off_ms" in fault:
        # The wake after the back-off (90 s; the lab's refresh is 5 min), not the usual minute.
        text = lab.panel.console_text()[at:]
        sleep = text.index("deep sleep for", text.index("screen: room, offline"))
        assert text.startswith("deep sleep for 90000 ms", sleep), text[sleep:sleep + 40]


def test_an_unknown_room_mailbox_says_so(lab):
    mark = push(lab, ews="ntlm", mailbox="Nowhere <nowhere@contoso.example>")
    problem = shown_problem(lab, "problem: not_found", since=mark)
    assert problem["words"] == "Exchange does not know the mailbox nowhere@contoso.example"
    mark = push(lab, ews="ntlm")
    lab.panel.wait_for("screen: room", since=mark)


def test_a_locked_account_is_a_problem_until_it_is_unlocked(lab):
    logon = lab.ews_account()["logon"]
    mark = push(lab, ews="ntlm")  # a new connection each wake: the lock applies at logon
    lab.panel.wait_for("screen: room", since=mark)
    mark = lab.panel.mark()
    lab.admin("POST", "ews/accounts/lock", {"account": logon, "locked": True})
    try:
        problem = shown_problem(lab, "problem: credentials", since=mark)
        assert "unlocking in Active Directory" in problem["action"]
    finally:
        lab.admin("POST", "ews/accounts/lock", {"account": logon, "locked": False})
    lab.panel.wait_for("screen: room |", since=lab.panel.mark())


def test_no_rights_on_the_room_says_the_exact_powershell_line(lab):
    account = lab.ews_account()
    user = account["domain"] + "\\" + account["logon"]  # as panel.toml names it
    mark = lab.panel.mark()
    lab.admin("POST", "rooms/rights", {"room": ROOM, "delegate": "none"})
    try:
        problem = shown_problem(lab, "problem: forbidden", since=mark)
        # The lab's panel releases no-shows: the room's delegate, too.
        assert problem["action"] == (
            f"In the Exchange Management Shell: Add-MailboxFolderPermission -Identity "
            f"{ROOM}:\\Calendar -User {user} -AccessRights PublishingEditor; and Set-Mailbox "
            f'-Identity {ROOM} -GrantSendOnBehalfTo @{{Add="{user}"}}'), problem
    finally:
        lab.admin("POST", "rooms/rights", {"room": ROOM, "delegate": "editor"})
    lab.panel.wait_for("screen: room", since=lab.panel.mark())


@pytest.mark.parametrize("auth", ["ntlm", "basic"])
def test_a_wrong_password_is_a_problem_with_words_then_the_right_one_works(lab, auth):
    mark = push(lab, ews=auth, password="not-the-password")
    problem = shown_problem(lab, "problem: credentials", since=mark)
    assert "refused the service account's user name or password" in problem["words"]
    assert "[backend] account and password" in problem["action"]
    assert "not-the-password" not in lab.panel.console_text()
    mark = push(lab, ews=auth)
    lab.panel.wait_for("screen: room", since=mark)


def test_basic_authentication_shows_the_room(lab):
    since = last_request_id(lab)
    mark = push(lab, ews="basic", account=lab.ews_account()["upn"])
    lab.panel.wait_for("screen: room |", since=mark)
    assert ews_requests(lab, since)
    mark = push(lab, ews="ntlm")
    lab.panel.wait_for("screen: room |", since=mark)
