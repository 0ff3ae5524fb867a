# app.ews against servers that do not behave like Exchange (tests/http_server.py's /ews and
# /status routes), in the Unix-port MicroPython over real HTTPS: a web page instead of SOAP, an
# NTLM challenge that is not one, no NTLM offered, a connection closed in the middle of the
# NTLM sign-in, no EWS at the address. Each is a BackendError with words, never another
# exception, and the password is never in them.
from http_helpers import raises, session, url

from app.backend import BackendError
from app.ews import Ews

ROOM = "room-4.12@contoso.example"
PASSWORD = "not-a-real-password"


def ews(s, path, auth="ntlm"):
    return Ews(s, {"url": url(path), "auth": auth, "account": "CONTOSO\\svc-panels",
                   "user": "svc-panels", "domain": "CONTOSO", "password": PASSWORD})


def failure(path, auth="ntlm"):
    with session() as s:
        e = raises(BackendError, ews(s, path, auth).calendar_view, ROOM, 0, 86400,
                   lambda e: None)
    assert PASSWORD not in e.words
    return e


def test_a_web_page_instead_of_soap_is_a_bad_response():
    for auth in ("ntlm", "basic"):
        # NTLM: the NEGOTIATE gets the page (a 200: no sign-in asked for); Basic: the call.
        e = failure("/ews?kind=html", auth)
        assert e.kind == "bad_response", (auth, e.kind, e.words)
    assert "text/html, not XML" in failure("/ews?kind=html", "basic").words


def test_a_challenge_that_is_not_base64_is_a_bad_response():
    e = failure("/ews?kind=bad-challenge")
    assert (e.kind, e.code) == ("bad_response", "bad_challenge"), (e.kind, e.code)
    assert "NTLM challenge" in e.words


def test_no_ntlm_offered_says_so():
    e = failure("/ews?kind=no-ntlm")
    assert (e.kind, e.code) == ("credentials", "no_ntlm"), (e.kind, e.code)


def test_a_connection_closed_during_the_sign_in_is_not_a_wrong_password():
    e = failure("/ews?kind=close-challenge")
    assert (e.kind, e.code) == ("unavailable", "ntlm_connection"), (e.kind, e.code)
    assert "proxy" in e.words


def test_no_ews_at_the_address():
    e = failure("/status?code=404", "basic")
    assert (e.kind, e.code) == ("not_found", "no_ews"), (e.kind, e.code)
