# Device-code sign-in (app/entra.py) and the sealed token store (app/tokens.py), in the real
# Unix-port MicroPython against the fake tenant (lintel tenant), which conftest starts once per
# session (LINTEL_TENANT_TEST names its base URL and CA file).
import time

from m365_helpers import SERVICE_ACCOUNT, TestBoard, admin, backend, raises, session, signed_in

from app import entra, seal, tokens


def test_a_device_code_is_shown_until_approved_then_tokens_arrive():
    with session() as s:
        client = entra.Entra(s, backend())
        code = client.start()
        assert len(code.user_code) == 9 and code.user_code.isupper()
        assert code.verification_uri.endswith("/devicelogin")
        assert code.qr == code.verification_uri  # Entra sends no verification_uri_complete
        view = code.view(code.expires_at - 900)
        assert view["user_code"] == code.user_code and view["expires_in"] == 900
        assert client.poll(code) is None  # authorization_pending
        admin("POST", "device/approve", {"user_code": code.user_code})
        time.sleep(code.interval)
        got = client.poll(code)
        assert got["access_token"].count(".") == 2  # a JWT, though the panel treats it as opaque
        assert got["refresh_token"] and got["expires_at"] > time.time() + 3000
        assert got["account"]["upn"] == SERVICE_ACCOUNT
        assert "Calendars.ReadWrite.Shared" in got["scope"]
        # Redeemed once: the same code is unknown afterwards.
        time.sleep(code.interval)
        e = raises(entra.SignInError, client.poll, code)
        assert e.error == "bad_verification_code" and "no longer knows" in e.words


def test_polling_too_fast_slows_down_by_five_seconds():
    with session() as s:
        client = entra.Entra(s, backend())
        code = client.start()
        before = code.interval
        assert client.poll(code) is None
        assert client.poll(code) is None  # at once again: slow_down, still no tokens
        assert code.interval == before + entra.SLOW_DOWN_STEP


def test_a_declined_sign_in_says_so():
    with session() as s:
        client = entra.Entra(s, backend())
        code = client.start()
        admin("POST", "device/deny", {"user_code": code.user_code})
        e = raises(entra.SignInError, client.poll, code)
        assert e.error == "authorization_declined" and e.code == 65004
        assert e.words == "the sign-in was declined" and not e.transient


def test_an_expired_code_says_so():
    admin("POST", "settings", {"device_code_lifetime": 1})
    try:
        with session() as s:
            client = entra.Entra(s, backend())
            code = client.start()
            time.sleep(1.5)
            e = raises(entra.SignInError, client.poll, code)
            assert e.error == "expired_token" and "expired" in e.words
    finally:
        admin("POST", "settings", {"device_code_lifetime": 900})


def test_a_refresh_rotates_the_refresh_token_without_a_new_id_token():
    with session() as s:
        client, first = signed_in(s)
        again = client.refresh(first["refresh_token"])
        assert again["refresh_token"] != first["refresh_token"]
        assert again["access_token"] != first["access_token"]
        assert again["account"] is None  # no openid scope on a refresh: tokens.Auth keeps it


def test_a_revoked_sign_in_needs_a_new_one_with_the_reason():
    with session() as s:
        client, got = signed_in(s)
        admin("POST", "tokens/revoke", {})
        e = raises(entra.SignInRequired, client.refresh, got["refresh_token"])
        assert e.error == "invalid_grant" and e.code == 50173 and "revoked" in e.words
        e = raises(entra.SignInRequired, client.refresh, "not-a-real-refresh-token")
        assert e.code == 9002313


def test_a_busy_token_endpoint_is_transient_with_its_retry_after():
    admin("POST", "faults", {"path": "/*/oauth2/v2.0/devicecode", "status": 503,
                             "retry_after": "2.5"})
    with session() as s:
        client = entra.Entra(s, backend())
        e = raises(entra.SignInError, client.start)
        assert e.transient and e.retry_after == 2.5 and e.error == "temporarily_unavailable"
        assert client.start().user_code  # the fault was one-shot: the service is back


def test_a_damaged_answer_is_an_error_with_words_not_a_crash():
    admin("POST", "faults", {"path": "/*/oauth2/v2.0/devicecode", "kind": "malformed"})
    with session() as s:
        e = raises(entra.SignInError, entra.Entra(s, backend()).start)
        assert e.error == "bad_response" and "damaged" in e.words


def test_an_unknown_tenant_is_refused_with_its_aadsts_number():
    with session() as s:
        e = raises(entra.SignInError, entra.Entra(s, backend(tenant="nowhere.example")).start)
        assert e.code == 90002 and not e.transient


def test_the_token_store_is_sealed_atomic_and_tied_to_its_tenant():
    board = TestBoard()
    board.mount_cfg()
    board.store_device_key(b"k" * 32, b"fake-id1")
    store = tokens.TokenStore(board, backend())
    store.clear()
    assert store.load() is None and store.problem is None
    kept = {"access_token": "not-a-real-access-token", "refresh_token": "not-a-real-refresh",
            "expires_at": 2000000000, "scope": "Mail.Send", "account": {"upn": SERVICE_ACCOUNT}}
    store.save(kept)
    data = board.read_file(tokens.TOKENS_FILE)
    assert data.startswith(seal.MAGIC) and b"not-a-real" not in data
    assert seal.key_id_of(data) == b"fake-id1"
    assert board.read_file(tokens.TOKENS_FILE + ".tmp") is None  # renamed into place
    assert store.load() == kept
    # Another tenant in the configuration: the stored sign-in is not used there.
    other = tokens.TokenStore(board, backend(tenant="fabrikam.onmicrosoft.com"))
    assert other.load() is None and "another tenant" in other.problem
    # A damaged file is reported, never used.
    damaged = bytearray(data)
    damaged[-1] ^= 1
    board.write_file(tokens.TOKENS_FILE, damaged)
    assert store.load() is None and "cannot be opened" in store.problem
    store.clear()
    assert board.read_file(tokens.TOKENS_FILE) is None
