# Entra ID v2 for the panel (docs/microsoft365.md): the device authorization grant (RFC 8628)
# that signs the service account in, and the refresh-token grant that keeps it signed in.
# The endpoints are Microsoft's /{tenant}/oauth2/v2.0/devicecode and /token.
# No token, device code or error text from the server body reaches a log: errors carry only
# Entra's error name and AADSTS number, and words of our own.
import json

from app import clock
from app.backend import SignInError, SignInRequired  # noqa: F401 -- raised here, named entra.*
from app.http import b64_json, retry_after
from app.http_errors import HttpError

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5  # seconds added to the interval per slow_down (RFC 8628 section 3.5)
# Continuous access evaluation (CAE): a client that says it answers claims challenges ("cp1")
# gets access tokens for Graph of up to 28 hours instead of 60 to 90 minutes, and in return
# Graph refuses one at once after a critical event (a revoked sign-in, a changed policy) with
# a claims challenge (Microsoft Learn: "Claims challenges, claims requests and client
# capabilities"; "How to use Continuous Access Evaluation enabled APIs in your applications").
# app/graph.py answers it through tokens.Auth.renew. At a 5-minute refresh that is about one
# renewal a day instead of one an hour: each is a TLS handshake with login.microsoftonline.com.
CAPABILITY = {"xms_cc": {"values": ["cp1"]}}

# What an admin should know about the invalid_grant answers Entra documents, by AADSTS number.
_GRANT_WORDS = {
    50173: "the service account's sign-in was revoked (password change or an admin)",
    700082: "the sign-in expired after 90 days without use",
    70008: "the sign-in expired or its refresh token was already used",
    70000: "the stored sign-in belongs to another app registration",
    65001: "the app registration lacks consent for a permission",
    9002313: "the stored sign-in is not valid",
    50076: "the service account needs multi-factor authentication again",
    50079: "the service account must register for multi-factor authentication",
    53003: "a Conditional Access policy blocks the service account",
    50057: "the service account is disabled",
    50126: "the service account's credentials are wrong",
}


class DeviceCode:
    """One device code being offered on the screen, and its polling schedule."""

    def __init__(self, doc, now):
        try:
            self.device_code = doc["device_code"]
            self.user_code = doc["user_code"]
            self.verification_uri = doc.get("verification_uri") or doc["verification_url"]
            self.expires_at = now + int(doc["expires_in"])
            self.interval = max(1, int(doc.get("interval", 5)))
        except (KeyError, TypeError, ValueError):
            raise SignInError("bad_response",
                              "the sign-in service sent an incomplete device code") from None
        # Entra sends no verification_uri_complete; when a server does, the QR code can carry
        # the code itself and the admin need not type it.
        self.qr = doc.get("verification_uri_complete") or self.verification_uri

    def view(self, now):
        return {"user_code": self.user_code, "verification_uri": self.verification_uri,
                "qr": self.qr, "expires_in": max(0, self.expires_at - now)}


class Entra:
    def __init__(self, session, backend):
        # backend: the configuration's backend section (docs/config.md)
        self.session = session
        self.client_id = backend["client_id"]
        # At sign-in, openid and profile bring an ID token: the account's name and UPN, for the
        # screen and the Add-MailboxFolderPermission line (MSAL asks for them the same way). A
        # refresh keeps the account it has and asks without them: no 1.4 KB ID token per hour.
        scopes = list(backend["scopes"])
        self.refresh_scope = " ".join(scopes)
        scopes += [s for s in ("openid", "profile") if s not in scopes]
        self.scope = " ".join(scopes)
        base = "%s/%s/oauth2/v2.0/" % (backend["authority_host"], backend["tenant"])
        self.devicecode_url = base + "devicecode"
        self.token_url = base + "token"

    def start(self):
        """Ask for a device code to show."""
        doc = self._post(self.devicecode_url, {"client_id": self.client_id, "scope": self.scope})
        return DeviceCode(doc, clock.now())

    def poll(self, code):
        """Tokens once the admin has signed in; None while pending. slow_down lengthens
        code.interval; a declined, expired or unknown code raises SignInError."""
        try:
            doc = self._post(self.token_url, {
                "grant_type": DEVICE_CODE_GRANT, "client_id": self.client_id,
                "device_code": code.device_code, "claims": claims_request()})
        except SignInError as e:
            if e.error == "authorization_pending":
                return None
            if e.error == "slow_down":
                code.interval += SLOW_DOWN_STEP
                return None
            if e.error == "authorization_declined":
                e.words = "the sign-in was declined"
            elif e.error == "expired_token":
                e.words = "the code expired before anyone signed in"
            elif e.error == "bad_verification_code":
                e.words = "the sign-in service no longer knows this code"
            raise
        return self._tokens(doc)

    def refresh(self, refresh_token, challenge=None):
        """New tokens (and the newest refresh token: keep it, drop the old one); `challenge`:
        the claims a claims challenge asked for."""
        try:
            doc = self._post(self.token_url, {
                "grant_type": "refresh_token", "client_id": self.client_id,
                "refresh_token": refresh_token, "scope": self.refresh_scope,
                "claims": claims_request(challenge)})
        except SignInError as e:
            if e.error in ("invalid_grant", "interaction_required", "invalid_client",
                           "unauthorized_client"):
                raise SignInRequired(e.error, _GRANT_WORDS.get(e.code) or e.words, e.code) from None
            raise
        tokens = self._tokens(doc)
        if not tokens["refresh_token"]:
            tokens["refresh_token"] = refresh_token  # no rotation this time: the old one stays
        return tokens

    def _tokens(self, doc):
        try:
            access = doc["access_token"]
            expires_in = int(doc["expires_in"])
        except (KeyError, TypeError, ValueError):
            raise SignInError("bad_response", "the sign-in service sent no usable token") from None
        return {"access_token": access, "expires_at": clock.now() + expires_in,
                "refresh_token": doc.get("refresh_token"), "scope": doc.get("scope", ""),
                "account": _account(doc.get("id_token"))}

    def _post(self, url, form):
        r = self.session.post(url, data=form, headers={"Accept": "application/json"})
        if r.status_code == 200:
            try:
                doc = r.json()
            except HttpError:
                raise SignInError("bad_response",
                                  "the sign-in service sent a damaged answer") from None
            if isinstance(doc, dict):
                return doc
            raise SignInError("bad_response", "the sign-in service sent a damaged answer")
        retry = retry_after(r.headers.get("retry-after"))
        busy = r.status_code == 429 or r.status_code >= 500
        try:
            doc = r.json()
        except HttpError:
            doc = None
        if not isinstance(doc, dict) or "error" not in doc:
            raise SignInError("unavailable" if busy else "http_%d" % r.status_code,
                              "the sign-in service answered HTTP %d" % r.status_code,
                              retry_after=retry, transient=busy)
        error = str(doc["error"])[:40]
        codes = doc.get("error_codes")
        code = codes[0] if isinstance(codes, list) and codes and isinstance(codes[0], int) \
            else None
        words = "Entra answered %s%s" % (error, " (AADSTS%d)" % code if code else "")
        raise SignInError(error, words, code, retry, busy)


def claims_request(challenge=None):
    """The `claims` of a token request: the capability, with what a challenge asked for."""
    claims = dict(challenge) if isinstance(challenge, dict) else {}
    access = claims.get("access_token")
    access = dict(access) if isinstance(access, dict) else {}
    access.update(CAPABILITY)
    claims["access_token"] = access
    return json.dumps(claims)


def _account(id_token):
    """The signed-in account's name and UPN from the ID token's claims, for the screen and the
    Add-MailboxFolderPermission line. The token came over verified TLS from the token endpoint,
    which is what OpenID Connect asks of a client that does not check its signature."""
    if not id_token:
        return None
    try:
        claims = b64_json(id_token.split(".")[1])
    except (IndexError, ValueError):
        return None
    upn = claims.get("preferred_username") or claims.get("upn") or claims.get("email")
    return {"name": claims.get("name"), "upn": upn}

