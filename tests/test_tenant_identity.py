"""`lintel tenant`, identity half: Microsoft's MSAL Python signs in against it with the device
code flow and refreshes; Entra's error shapes; the admin API; fault injection; TLS; the CLI."""

import base64
import http.client
import json
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from helpers import run_lintel

CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
SCOPES = ["Calendars.ReadWrite.Shared", "Mail.Send", "Place.Read.All", "User.ReadBasic.All"]
SERVICE_UPN = "panels@fabrikam.example"
FULL_SCOPE = "offline_access openid profile " + " ".join(SCOPES)
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

SEED = {
    "tenant": {"domain": "fabrikam.example", "name": "Fabrikam"},
    "users": [
        {"upn": SERVICE_UPN, "name": "Fabrikam Panels", "service_account": True},
        {"upn": "ines@fabrikam.example", "name": "Ines Duarte", "given_name": "Ines",
         "surname": "Duarte"},
    ],
    "tokens": {"poll_interval": 1, "device_code_lifetime": 60, "access_token_lifetime": 600},
}

SEEN_SECRETS: list[str] = []  # every token and code the tests saw; none may reach the log


class Tenant:
    """`lintel tenant` as a subprocess, and an HTTPS client that trusts its CA."""

    def __init__(self, workdir: Path, seed: dict = SEED, state: Path | None = None):
        self.workdir = workdir
        self.ca = workdir / "ca.pem"
        seed_file = workdir / "seed.json"
        seed_file.write_text(json.dumps(seed))
        args = [sys.executable, "-m", "lintel", "tenant", "--port", "0", "--seed", str(seed_file),
                "--ca-out", str(self.ca)]
        if state:
            args += ["--state", str(state)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("tenant: https://"):
            self.proc.kill()
            raise AssertionError(f"no ready line: {line!r} {self.proc.stderr.read()}")
        self.base = line.split()[1]
        self.port = int(self.base.rsplit(":", 1)[1])
        self.context = ssl.create_default_context(cafile=str(self.ca))
        self.info = self.admin("GET", "/_admin/tenant")
        self.tid = self.info["tenant_id"]
        self.authority = f"{self.base}/{self.tid}"

    def stop(self):
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=10)
        assert self.proc.returncode == 0 and not err, err  # no traceback behind our back

    def request(self, method, path, form=None, body=None, headers=None, conn=None):
        """(status, headers, body bytes). `form` is sent form-encoded, `body` as JSON."""
        own = conn is None
        conn = conn or http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context,
                                                   timeout=10)
        h = dict(headers or {})
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            if own:
                conn.close()

    def admin(self, method, path, body=None, expect=(200, 201)):
        status, _, data = self.request(method, path, body=body)
        assert status in expect, (status, data)
        return json.loads(data)

    def post_form(self, path, form, headers=None):
        status, h, data = self.request("POST", f"/{self.tid}/oauth2/v2.0/{path}", form=form,
                                       headers=headers)
        return status, h, json.loads(data)

    def device_code(self, scope=FULL_SCOPE):
        status, _, flow = self.post_form("devicecode", {"client_id": CLIENT_ID, "scope": scope})
        assert status == 200, flow
        SEEN_SECRETS.extend([flow["device_code"], flow["user_code"]])
        return flow

    def poll(self, device_code, headers=None):
        return self.post_form("token", {"client_id": CLIENT_ID, "grant_type": DEVICE_GRANT,
                                        "device_code": device_code, "client_info": "1"}, headers)

    def refresh(self, refresh_token, scope=None):
        form = {"client_id": CLIENT_ID, "grant_type": "refresh_token",
                "refresh_token": refresh_token}
        if scope:
            form["scope"] = scope
        status, h, body = self.post_form("token", form)
        _remember(body)
        return status, body

    def sign_in(self):
        """A whole device flow over the wire (approved before the first poll)."""
        flow = self.device_code()
        self.admin("POST", "/_admin/device/approve", {"user_code": flow["user_code"]})
        status, _, body = self.poll(flow["device_code"])
        assert status == 200, body
        _remember(body)
        return body


def _remember(body):
    SEEN_SECRETS.extend(body[k] for k in ("access_token", "refresh_token", "id_token")
                        if k in body)


def assert_entra_error(status, body, error, code=None):
    """Entra's error JSON (docs: 'Error response' of the token endpoint)."""
    assert status == 400, (status, body)
    assert body["error"] == error, body
    assert isinstance(body["error_codes"], list) and body["error_codes"]
    assert all(isinstance(c, int) for c in body["error_codes"])
    if code is not None:
        assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{body['error_codes'][0]}: ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", body["timestamp"])
    assert GUID.fullmatch(body["trace_id"]) and GUID.fullmatch(body["correlation_id"])
    assert f"Trace ID: {body['trace_id']}" in body["error_description"]
    assert f"Correlation ID: {body['correlation_id']}" in body["error_description"]


def b64d(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_with_jwks(tenant, token):
    """Verify an RS256 JWT with the key the tenant serves at its discovery's jwks_uri."""
    _, _, raw = tenant.request("GET", f"/{tenant.tid}/v2.0/.well-known/openid-configuration")
    config = json.loads(raw)
    jwks_path = urllib.parse.urlsplit(config["jwks_uri"]).path
    _, _, raw = tenant.request("GET", jwks_path)
    keys = json.loads(raw)["keys"]
    head, body, sig = token.split(".")
    header = json.loads(b64d(head))
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    jwk = next(k for k in keys if k["kid"] == header["kid"])
    public = rsa.RSAPublicNumbers(int.from_bytes(b64d(jwk["e"]), "big"),
                                  int.from_bytes(b64d(jwk["n"]), "big")).public_key()
    public.verify(b64d(sig), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    # the x5c certificate carries the same key
    cert = x509.load_der_x509_certificate(base64.b64decode(jwk["x5c"][0]))
    assert cert.public_key().public_numbers() == public.public_numbers()
    return config, json.loads(b64d(body))


@pytest.fixture(scope="module")
def tenant(tmp_path_factory):
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a Session's `verify`, which is
    # how MSAL applies verify=: clear them so MSAL trusts the tenant's CA as asked.
    with pytest.MonkeyPatch.context() as mp:
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            mp.delenv(name, raising=False)
        t = Tenant(tmp_path_factory.mktemp("tenant"))
        yield t
        t.stop()


@pytest.fixture(scope="module")
def msal_app(tenant):
    return msal.PublicClientApplication(CLIENT_ID, authority=tenant.authority,
                                        instance_discovery=False, verify=str(tenant.ca))


@pytest.fixture(scope="module")
def signed_in(tenant, msal_app):
    """MSAL's device flow, approved through the admin API while MSAL polls."""
    flow = msal_app.initiate_device_flow(scopes=SCOPES)
    assert "user_code" in flow, flow
    SEEN_SECRETS.extend([flow["device_code"], flow["user_code"]])
    mark = tenant.admin("GET", "/_admin/requests")[-1]["id"]
    result = {}
    poller = threading.Thread(target=lambda: result.update(
        msal_app.acquire_token_by_device_flow(flow)))
    poller.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # let MSAL see authorization_pending at least once
        log = tenant.admin("GET", f"/_admin/requests?since={mark}")
        if any(r["error"] == "authorization_pending" for r in log):
            break
        time.sleep(0.05)
    approved = tenant.admin("POST", "/_admin/device/approve", {"user_code": flow["user_code"]})
    poller.join(15)
    assert not poller.is_alive()
    _remember(result)
    return flow, approved, result


# -- MSAL ------------------------------------------------------------------------------------


def test_msal_device_flow(tenant, signed_in):
    flow, approved, result = signed_in
    assert re.fullmatch(r"[A-Z0-9]{9}", flow["user_code"])
    assert flow["verification_uri"] == f"{tenant.base}/devicelogin"
    assert flow["interval"] == 1 and flow["expires_in"] == 60
    assert flow["user_code"] in flow["message"] and flow["verification_uri"] in flow["message"]
    assert approved["status"] == "approved" and approved["user"] == SERVICE_UPN
    assert "error" not in result, result
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 600 and result["ext_expires_in"] == 600
    assert set(result["scope"].split()) >= set(SCOPES)
    assert result["refresh_token"] and result["id_token"]
    assert result["id_token_claims"]["preferred_username"] == SERVICE_UPN


def test_access_token_verifies_against_the_served_jwks(tenant, signed_in):
    _, _, result = signed_in
    config, claims = verify_with_jwks(tenant, result["access_token"])
    now = time.time()
    assert claims["iss"] == config["issuer"] == f"{tenant.authority}/v2.0"
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["tid"] == tenant.tid
    assert claims["oid"] == tenant.info["service_account"]["id"]
    assert claims["upn"] == SERVICE_UPN and claims["appid"] == CLIENT_ID
    assert set(claims["scp"].split()) >= set(SCOPES)
    assert claims["nbf"] <= now + 5 and claims["iat"] <= now + 5
    assert claims["exp"] == claims["iat"] + 600
    _, id_claims = verify_with_jwks(tenant, result["id_token"])
    assert id_claims["aud"] == CLIENT_ID and id_claims["ver"] == "2.0"
    assert id_claims["oid"] == claims["oid"] and id_claims["tid"] == tenant.tid
    client_info = json.loads(b64d(result["client_info"]))
    assert client_info == {"uid": claims["oid"], "utid": tenant.tid}


def test_msal_silent_refresh_rotates_the_refresh_token(tenant, msal_app, signed_in):
    _, _, first = signed_in
    accounts = msal_app.get_accounts(username=SERVICE_UPN)
    assert len(accounts) == 1
    again = msal_app.acquire_token_silent(SCOPES, account=accounts[0], force_refresh=True)
    assert again and "access_token" in again, again
    _remember(again)
    assert again["access_token"] != first["access_token"]
    assert again["refresh_token"] != first["refresh_token"]
    _, claims = verify_with_jwks(tenant, again["access_token"])
    assert claims["upn"] == SERVICE_UPN
    grants = [r["form"].get("grant_type") for r in tenant.admin("GET", "/_admin/requests")
              if r["form"] and r["status"] == 200]
    assert grants[-1] == "refresh_token"


# -- the device code grant's errors -------------------------------------------------------------


def test_pending_then_slow_down(tenant):
    flow = tenant.device_code()
    cid = str(uuid.uuid4())
    status, headers, body = tenant.poll(flow["device_code"], {"client-request-id": cid})
    assert_entra_error(status, body, "authorization_pending", 70016)
    assert body["correlation_id"] == cid and headers["client-request-id"] == cid
    assert "no-store" in headers["Cache-Control"]
    status, _, body = tenant.poll(flow["device_code"])  # at once: sooner than the 1 s interval
    assert_entra_error(status, body, "slow_down")
    codes = {c["user_code"]: c for c in tenant.admin("GET", "/_admin/device?status=pending")}
    assert codes[flow["user_code"]]["interval"] == 6  # RFC 8628: +5 s from now on


def test_declined(tenant):
    flow = tenant.device_code()
    denied = tenant.admin("POST", "/_admin/device/deny", {"user_code": flow["user_code"]})
    assert denied["status"] == "declined"
    status, _, body = tenant.poll(flow["device_code"])
    assert_entra_error(status, body, "authorization_declined")
    tenant.admin("POST", "/_admin/device/approve", {"user_code": flow["user_code"]},
                 expect=(409,))


def test_expired_token(tenant):
    tenant.admin("POST", "/_admin/settings", {"device_code_lifetime": 1})
    try:
        flow = tenant.device_code()
        assert flow["expires_in"] == 1
        time.sleep(1.2)
        status, _, body = tenant.poll(flow["device_code"])
        assert_entra_error(status, body, "expired_token", 70019)
        tenant.admin("POST", "/_admin/device/approve", {"user_code": flow["user_code"]},
                     expect=(409,))
    finally:
        tenant.admin("POST", "/_admin/settings", {"device_code_lifetime": 60})


def test_bad_verification_code(tenant):
    status, _, body = tenant.poll("DAQABIQEAAAD" + "x" * 40)
    assert_entra_error(status, body, "bad_verification_code")
    tenant.admin("POST", "/_admin/device/approve", {"user_code": "NOSUCHCOD"}, expect=(404,))
    # a redeemed device code is gone too
    flow = tenant.device_code()
    tenant.admin("POST", "/_admin/device/approve", {"user_code": flow["user_code"]})
    status, _, body = tenant.poll(flow["device_code"])
    assert status == 200
    _remember(body)
    status, _, body = tenant.poll(flow["device_code"])
    assert_entra_error(status, body, "bad_verification_code")


def test_request_errors(tenant):
    status, _, body = tenant.post_form("devicecode", {"client_id": CLIENT_ID})
    assert_entra_error(status, body, "invalid_request", 900144)
    assert "'scope'" in body["error_description"]
    status, _, body = tenant.post_form("token", {"client_id": CLIENT_ID, "grant_type": "password"})
    assert_entra_error(status, body, "unsupported_grant_type", 70003)
    status, _, body = tenant.post_form("devicecode", {"client_id": CLIENT_ID,
                                                      "scope": "https://vault.azure.net/x"})
    assert_entra_error(status, body, "invalid_resource", 500011)
    status, _, raw = tenant.request("GET", f"/{tenant.tid}/oauth2/v2.0/token")
    assert_entra_error(status, json.loads(raw), "invalid_request", 900561)


# -- refresh tokens ------------------------------------------------------------------------------


def test_refresh_rotation_reuse_and_revocation(tenant, msal_app):
    tokens = tenant.sign_in()
    status, second = tenant.refresh(tokens["refresh_token"])
    assert status == 200 and second["refresh_token"] != tokens["refresh_token"]
    # Entra: "Refresh tokens aren't revoked when used": the old one still works by default ...
    status, body = tenant.refresh(tokens["refresh_token"])
    assert status == 200
    # ... and not when the tenant is told to reject reuse.
    tenant.admin("POST", "/_admin/settings", {"refresh_token_reuse": "reject"})
    try:
        status, body = tenant.refresh(tokens["refresh_token"])
        assert_entra_error(status, body, "invalid_grant", 70008)
        status, third = tenant.refresh(second["refresh_token"], scope="Mail.Send offline_access")
        assert status == 200 and third["scope"] == "Mail.Send"
    finally:
        tenant.admin("POST", "/_admin/settings", {"refresh_token_reuse": "allow"})
    status, body = tenant.refresh(third["refresh_token"], scope="Directory.Read.All")
    assert_entra_error(status, body, "invalid_grant", 65001)
    # revocation: every refresh token issued so far fails, MSAL's included
    revoked = tenant.admin("POST", "/_admin/tokens/revoke", {})
    assert revoked["upn"] == SERVICE_UPN and revoked["tokens_valid_from"]
    status, body = tenant.refresh(third["refresh_token"])
    assert_entra_error(status, body, "invalid_grant", 50173)
    account = msal_app.get_accounts(username=SERVICE_UPN)[0]
    result = msal_app.acquire_token_silent_with_error(SCOPES, account=account, force_refresh=True)
    assert result and result["error"] == "invalid_grant", result
    # a new sign-in works again
    fresh = tenant.sign_in()
    assert tenant.refresh(fresh["refresh_token"])[0] == 200
    status, body = tenant.refresh("1.A" + "z" * 100)
    assert_entra_error(status, body, "invalid_grant", 9002313)


def _graph_me(tenant, access_token):
    return tenant.request("GET", "/v1.0/me", headers={"Authorization": "Bearer " + access_token})


def test_msal_declaring_cae_gets_day_long_tokens_and_answers_claims_challenges(tenant):
    # MSAL's client_capabilities=["CP1"] is how Microsoft's own clients declare continuous
    # access evaluation: its token requests carry claims={"access_token":{"xms_cc":...}}.
    app = msal.PublicClientApplication(CLIENT_ID, authority=tenant.authority,
                                       instance_discovery=False, verify=str(tenant.ca),
                                       client_capabilities=["CP1"])
    flow = app.initiate_device_flow(scopes=SCOPES)
    SEEN_SECRETS.extend([flow["device_code"], flow["user_code"]])
    tenant.admin("POST", "/_admin/device/approve", {"user_code": flow["user_code"]})
    first = app.acquire_token_by_device_flow(flow)
    _remember(first)
    assert first.get("expires_in") == 24 * 3600, first
    _, claims = verify_with_jwks(tenant, first["access_token"])
    assert claims["xms_cc"] == ["cp1"] and claims["exp"] == claims["iat"] + 24 * 3600
    plain = tenant.sign_in()  # no capability declared: the tenant's 600 s, never challenged
    assert plain["expires_in"] == 600
    assert "xms_cc" not in verify_with_jwks(tenant, plain["access_token"])[1]
    assert _graph_me(tenant, first["access_token"])[0] == 200

    # A critical event that leaves the sign-in valid: Graph refuses the CAE token at once ...
    tenant.admin("POST", "/_admin/tokens/challenge", {})
    status, headers, body = _graph_me(tenant, first["access_token"])
    assert status == 401
    assert json.loads(body)["error"]["message"].endswith("LocationConditionEvaluationSatisfied")
    m = re.search(r'error="insufficient_claims", claims="([^"]+)"', headers["WWW-Authenticate"])
    asked = base64.b64decode(m.group(1)).decode()
    assert json.loads(asked)["access_token"]["nbf"]["essential"] is True
    assert _graph_me(tenant, plain["access_token"])[0] == 200
    # ... and MSAL answers the challenge with its refresh token and the claims asked for.
    account = app.get_accounts(username=SERVICE_UPN)[0]
    again = app.acquire_token_silent(SCOPES, account=account, claims_challenge=asked)
    _remember(again)
    assert again and again["access_token"] != first["access_token"], again
    assert _graph_me(tenant, again["access_token"])[0] == 200

    # A revoked sign-in: the challenge names the revocation and the refresh token is gone.
    tenant.admin("POST", "/_admin/tokens/revoke", {})
    status, headers, body = _graph_me(tenant, again["access_token"])
    assert status == 401 and 'error="insufficient_claims"' in headers["WWW-Authenticate"]
    assert json.loads(body)["error"]["message"].endswith("TokenIssuedBeforeRevocationTimestamp")
    result = app.acquire_token_silent_with_error(SCOPES, account=account,
                                                 claims_challenge=asked)
    assert result and result["error"] == "invalid_grant", result
    # Claims that are not a JSON object are refused in Entra's words.
    fresh = tenant.sign_in()
    status, _, body = tenant.post_form("token", {
        "client_id": CLIENT_ID, "grant_type": "refresh_token",
        "refresh_token": fresh["refresh_token"], "claims": "{not json"})
    assert_entra_error(status, body, "invalid_request", 90100)


def test_refresh_token_expires_when_unused(tenant):
    tokens = tenant.sign_in()
    try:
        tenant.admin("POST", "/_admin/clock", {"advance": 90 * 24 * 3600 + 1})
        status, body = tenant.refresh(tokens["refresh_token"])
        assert_entra_error(status, body, "invalid_grant", 700082)
    finally:
        tenant.admin("POST", "/_admin/clock", {"offset": 0})


# -- discovery and the verification page -------------------------------------------------------


def test_discovery_documents(tenant):
    for name in (tenant.tid, "fabrikam.example", "organizations"):
        status, headers, raw = tenant.request("GET", f"/{name}/v2.0/.well-known/"
                                                     "openid-configuration")
        assert status == 200
        doc = json.loads(raw)
        for key in ("authorization_endpoint", "token_endpoint", "device_authorization_endpoint",
                    "jwks_uri", "end_session_endpoint", "userinfo_endpoint"):
            assert doc[key].startswith(tenant.base + "/"), key
        assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["issuer"] == f"{tenant.base}/{{tenantid}}/v2.0"  # the alias's placeholder
    status, _, raw = tenant.request("GET", "/nosuch.example/v2.0/.well-known/openid-configuration")
    assert_entra_error(status, json.loads(raw), "invalid_tenant", 90002)
    endpoint = urllib.parse.quote(f"{tenant.authority}/oauth2/v2.0/authorize", safe="")
    status, _, raw = tenant.request("GET", "/common/discovery/instance?api-version=1.1&"
                                           f"authorization_endpoint={endpoint}")
    assert status == 200
    assert json.loads(raw)["tenant_discovery_endpoint"] == \
        f"{tenant.authority}/v2.0/.well-known/openid-configuration"
    # MSAL validating the authority through this tenant's own instance discovery
    mark = tenant.admin("GET", "/_admin/requests")[-1]["id"]
    app = msal.PublicClientApplication(
        CLIENT_ID, authority=tenant.authority, verify=str(tenant.ca),
        instance_discovery=f"{tenant.base}/common/discovery/instance")
    assert app.authority.device_authorization_endpoint == \
        f"{tenant.authority}/oauth2/v2.0/devicecode"
    paths = [r["path"] for r in tenant.admin("GET", f"/_admin/requests?since={mark}")]
    assert paths[0] == "/common/discovery/instance"


def test_verification_page(tenant):
    flow = tenant.device_code()
    status, _, page = tenant.request("GET", "/devicelogin")
    assert status == 200 and b"<form" in page and SERVICE_UPN.encode() in page
    status, _, page = tenant.request("POST", "/devicelogin", form={"otc": "WRONGCODE"})
    assert status == 400 and b"didn&#x27;t work" in page
    status, _, page = tenant.request("POST", "/devicelogin",
                                     form={"otc": flow["user_code"].lower(), "action": "approve"})
    assert status == 200 and b"signed in" in page
    status, _, body = tenant.poll(flow["device_code"])
    assert status == 200 and body["access_token"]
    _remember(body)


# -- the server: keep-alive, faults, TLS -------------------------------------------------------


def test_keep_alive(tenant):
    conn = http.client.HTTPSConnection("127.0.0.1", tenant.port, context=tenant.context)
    mark = tenant.admin("GET", "/_admin/requests")[-1]["id"]
    for _ in range(3):
        status, headers, _ = tenant.request("GET", f"/{tenant.tid}/v2.0/.well-known/"
                                                   "openid-configuration", conn=conn)
        assert status == 200 and headers.get("Connection") != "close"
    conn.close()
    log = tenant.admin("GET", f"/_admin/requests?since={mark}")
    assert len(log) == 3 and len({r["conn"] for r in log}) == 1


def test_fault_injection(tenant):
    discovery = f"/{tenant.tid}/v2.0/.well-known/openid-configuration"
    mark = tenant.admin("GET", "/_admin/requests")[-1]["id"]
    added = tenant.admin("POST", "/_admin/faults", {"path": "/*/oauth2/v2.0/token",
                                                    "status": 429, "retry_after": 7})
    assert added["times"] == 1 and added["kind"] == "status"
    status, headers, body = tenant.poll("DAQABIQEAAAD-unknown")
    assert status == 429 and headers["Retry-After"] == "7"
    assert body["error"] == "temporarily_unavailable" and body["error_codes"]
    status, _, body = tenant.poll("DAQABIQEAAAD-unknown")  # once only: back to normal
    assert_entra_error(status, body, "bad_verification_code")

    tenant.admin("POST", "/_admin/faults", {"path": "/*/oauth2/v2.0/token", "status": 503,
                                            "times": 2})
    assert [tenant.poll("x")[0] for _ in range(3)] == [503, 503, 400]

    tenant.admin("POST", "/_admin/faults", {"path": "*/openid-configuration",
                                            "kind": "malformed"})
    status, _, raw = tenant.request("GET", discovery)
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(raw)
    assert json.loads(tenant.request("GET", discovery)[2])["issuer"]

    tenant.admin("POST", "/_admin/faults", {"path": discovery, "kind": "truncate"})
    with pytest.raises(http.client.IncompleteRead):
        tenant.request("GET", discovery)
    assert tenant.request("GET", discovery)[0] == 200

    tenant.admin("POST", "/_admin/faults", {"path": discovery, "kind": "reset"})
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected, ssl.SSLError)):
        tenant.request("GET", discovery)
    assert tenant.request("GET", discovery)[0] == 200

    tenant.admin("POST", "/_admin/faults", {"path": discovery, "kind": "delay", "delay": 0.4})
    started = time.monotonic()
    assert tenant.request("GET", discovery)[0] == 200
    assert time.monotonic() - started >= 0.4

    tenant.admin("POST", "/_admin/faults", {"path": "/devicelogin", "status": 500,
                                            "times": None})
    assert tenant.request("GET", "/devicelogin")[0] == 500
    assert tenant.request("GET", "/devicelogin")[0] == 500
    faults = tenant.admin("GET", "/_admin/faults")
    assert faults[-1]["fired"] == 2 and faults[-1]["remaining"] is None
    assert tenant.admin("DELETE", "/_admin/faults")["cleared"] == len(faults)
    assert tenant.request("GET", "/devicelogin")[0] == 200
    log = tenant.admin("GET", f"/_admin/requests?since={mark}")
    assert [(r["fault"], r["status"]) for r in log if r["fault"]] == [
        ("status", 429), ("status", 503), ("status", 503), ("malformed", 200),
        ("truncate", 200), ("reset", None), ("delay", 200), ("status", 500), ("status", 500)]
    status, _, raw = tenant.request("POST", "/_admin/faults", body={"path": "/x", "kind": "boom"})
    assert status == 400 and "kind" in json.loads(raw)["error"]


def test_tls_trust(tenant):
    discovery = f"/{tenant.tid}/v2.0/.well-known/openid-configuration"
    for host in ("127.0.0.1", "localhost"):
        conn = http.client.HTTPSConnection(host, tenant.port, context=tenant.context, timeout=5)
        conn.request("GET", discovery)
        assert conn.getresponse().status == 200
        conn.close()
    system = ssl.create_default_context()  # the system's CAs: not this tenant's
    with pytest.raises(ssl.SSLCertVerificationError):
        conn = http.client.HTTPSConnection("127.0.0.1", tenant.port, context=system, timeout=5)
        conn.request("GET", discovery)
    with pytest.raises(ssl.SSLCertVerificationError):  # right CA, wrong host name
        with socket.create_connection(("127.0.0.1", tenant.port), timeout=5) as raw:
            tenant.context.wrap_socket(raw, server_hostname="login.microsoftonline.com")
    stats = tenant.admin("GET", "/_admin/stats")
    assert stats["handshakes_failed"] >= 2 and stats["handshakes"] >= 1


def test_request_log_has_no_secrets(tenant):
    """Runs after the others: nothing any test saw (tokens, device and user codes) is logged."""
    tokens = tenant.sign_in()  # traffic of its own too, so it also holds when run alone
    tenant.refresh(tokens["refresh_token"])
    tenant.request("POST", "/devicelogin", form={"otc": tenant.device_code()["user_code"]})
    log = tenant.admin("GET", "/_admin/requests")
    text = json.dumps(log)
    assert len(SEEN_SECRETS) >= 7
    for secret in SEEN_SECRETS:
        assert secret not in text
    redacted = [r["form"] for r in log if r["form"] and "device_code" in r["form"]]
    assert redacted and all(f["device_code"] == "[redacted]" for f in redacted)
    assert any(r["form"].get("refresh_token") == "[redacted]" for r in log if r["form"])
    assert {"method", "path", "status", "ms", "time"} <= set(log[-1])
    assert [r["id"] for r in log] == sorted(r["id"] for r in log)  # newest last


# -- the command line ----------------------------------------------------------------------------


def _one_line_error(proc):
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lintel: "), proc.stderr
    return lines[0]


def test_cli_errors(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = _one_line_error(run_lintel("tenant", "--port", port, check=False, timeout=30))
        assert str(port) in line
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    line = _one_line_error(run_lintel("tenant", "--port", 0, "--ca-out", not_a_dir / "ca.pem",
                                      check=False, timeout=30))
    assert "CA certificate" in line
    bad_seed = tmp_path / "seed.json"
    bad_seed.write_text(json.dumps({**SEED, "users": [{"upn": "x@y.example", "name": "X"}]}))
    line = _one_line_error(run_lintel("tenant", "--port", 0, "--seed", bad_seed, check=False,
                                      timeout=30))
    assert "service_account" in line


def test_state_survives_a_restart(tmp_path):
    state = tmp_path / "state"
    first = Tenant(tmp_path, state=state)
    try:
        tokens = first.sign_in()
        ca = first.ca.read_bytes()
    finally:
        first.stop()
    assert (state / "ca.key").stat().st_mode & 0o077 == 0
    second = Tenant(tmp_path, state=state)
    try:
        assert second.ca.read_bytes() == ca  # the CA configurations trust stays the same
        status, body = second.refresh(tokens["refresh_token"])
        assert status == 200, body
    finally:
        second.stop()
    other = dict(SEED, tokens={"poll_interval": 2})
    (tmp_path / "seed2.json").write_text(json.dumps(other))
    proc = run_lintel("tenant", "--port", 0, "--state", state, "--seed", tmp_path / "seed2.json",
                      check=False, timeout=30)
    assert "fresh --state" in _one_line_error(proc)
