"""Entra ID v2 (the Microsoft identity platform), as far as a door panel and MSAL use it:
OpenID discovery, instance discovery, the JWKS, the device authorization grant, the token
endpoint's device_code and refresh_token grants, and the verification page.

Shapes follow Microsoft's documentation: "Microsoft identity platform and the OAuth 2.0 device
authorization grant flow", the authorization code flow page's token and error responses, the
AADSTS error code reference, and the v2 OpenID configuration document. Where this fake chooses
(slow_down's AADSTS number, refresh-token reuse), docs/tenant.md says so.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import sqlite3
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from lintel.tenant.seed import objects, unknown_keys
from lintel.tenant.server import (
    HttpError,
    Request,
    Response,
    Tenant,
    html_response,
    json_response,
)

NAME = "identity"
SEED_KEYS = ("tenant", "users", "tokens")

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Delegated Graph permissions this tenant's apps are consented for; `.default` means these.
DEFAULT_GRAPH_PERMISSIONS = ("Calendars.ReadWrite.Shared", "Mail.Send", "Place.Read.All",
                             "User.ReadBasic.All", "User.Read")
# Canonical spellings, so "calendars.read" comes back as Entra spells it.
KNOWN_GRAPH_SCOPES = {s.lower(): s for s in (
    "User.Read", "User.ReadBasic.All", "User.Read.All", "Calendars.Read", "Calendars.Read.Shared",
    "Calendars.ReadBasic", "Calendars.ReadWrite", "Calendars.ReadWrite.Shared", "Mail.Send",
    "Mail.Send.Shared", "Mail.Read", "Mail.ReadBasic", "Place.Read.All", "People.Read",
    "MailboxSettings.Read", "MailboxSettings.ReadWrite", "Group.Read.All", "Directory.Read.All",
)}
SCOPE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)+")
USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
USER_CODE_LENGTH = 9  # Entra's user codes are nine characters, e.g. "FRWQDE7YL"
MEMBER_ROLE_TEMPLATE = "b79fbf4d-3ef9-4689-8143-76b194e85509"  # the `wids` every member carries

DEFAULT_SETTINGS: dict[str, Any] = {
    "access_token_lifetime": 3600,  # Entra's default is 60-90 minutes
    # For a client that declares continuous access evaluation ("xms_cc": "cp1" in its claims
    # request): Entra gives "up to 28 hours"; the lab takes a day.
    "cae_access_token_lifetime": 24 * 3600,
    "refresh_token_lifetime": 90 * 24 * 3600,  # Entra's max inactive time: 90 days
    "device_code_lifetime": 900,  # "the user has 15 minutes to sign in"
    "poll_interval": 5,
    "refresh_token_reuse": "allow",  # Entra: "Refresh tokens aren't revoked when used"
}
REUSE_POLICIES = ("allow", "reject")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id                TEXT PRIMARY KEY,
    upn               TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name              TEXT NOT NULL,
    given_name        TEXT,
    surname           TEXT,
    mail              TEXT,
    job_title         TEXT,
    service_account   INTEGER NOT NULL DEFAULT 0,
    tokens_valid_from REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS device_codes (
    id         INTEGER PRIMARY KEY,
    code_hash  TEXT NOT NULL UNIQUE,
    user_code  TEXT NOT NULL UNIQUE,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created    REAL NOT NULL,
    expires    REAL NOT NULL,
    interval   INTEGER NOT NULL,
    last_poll  REAL,
    polls      INTEGER NOT NULL DEFAULT 0,
    status     TEXT NOT NULL DEFAULT 'pending',
    user_id    TEXT,
    decided    REAL
);
CREATE TABLE IF NOT EXISTS cae_tokens (
    uti    TEXT PRIMARY KEY,
    issued REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    family     TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    issued     REAL NOT NULL,
    expires    REAL NOT NULL,
    used       REAL
);
"""


def init_store(store) -> None:
    store.ensure_schema(SCHEMA)


# -- small helpers -------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def digest(secret: str) -> str:
    """Secrets (device codes, refresh tokens) are kept only as their SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def utc(ts: float) -> str:
    """Entra's timestamp style: "2016-01-09 02:02:12Z"."""
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(ts))


def iso(ts: float) -> str:
    """The admin API's: ISO 8601 UTC with milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def _uuid_for(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "lintel-tenant:" + ":".join(parts)))


def tenant_info(t: Tenant) -> dict:
    return t.store.get_meta("tenant")


def settings(t: Tenant) -> dict:
    return {**DEFAULT_SETTINGS, **(t.store.get_meta("settings") or {})}


def _check_settings(values: dict, where: str) -> list[str]:
    problems = []
    for k, v in values.items():
        if k not in DEFAULT_SETTINGS:
            problems.append(f"{where}: unknown setting {k!r} (known: "
                            f"{', '.join(DEFAULT_SETTINGS)})")
        elif k == "refresh_token_reuse":
            if v not in REUSE_POLICIES:
                problems.append(f"{where}.{k}: one of {', '.join(REUSE_POLICIES)}")
        elif isinstance(v, bool) or not isinstance(v, int) or v < 1:
            problems.append(f"{where}.{k}: a whole number of seconds, 1 or more")
    return problems


def update_settings(t: Tenant, changes: dict) -> dict:
    """Change token lifetimes or the reuse policy; ValueError says what is wrong."""
    if not isinstance(changes, dict):
        raise ValueError("settings are a JSON object")
    problems = _check_settings(changes, "settings")
    if problems:
        raise ValueError(problems[0])
    t.store.set_meta("settings", {**settings(t), **changes})
    return settings(t)


# -- the seed's identity part ----------------------------------------------------------------

USER_KEYS = {"id", "upn", "name", "given_name", "surname", "mail", "job_title", "service_account"}


def _is_guid(v: Any) -> bool:
    try:
        uuid.UUID(str(v))
    except ValueError:
        return False
    return isinstance(v, str)


def validate_seed(seed: dict) -> list[str]:
    problems: list[str] = []
    tenant = seed.get("tenant", {})
    if not isinstance(tenant, dict):
        return ["tenant: an object with domain, name and (optionally) id"]
    problems += unknown_keys(tenant, ("id", "domain", "domains", "name"), "tenant")
    if "id" in tenant and not _is_guid(tenant["id"]):
        problems.append("tenant.id: a GUID such as \"9188040d-6c67-4c5b-b112-36a304b66dad\"")
    domain = tenant.get("domain", "contoso.onmicrosoft.com")
    if not isinstance(domain, str) or "." not in domain or "/" in domain:
        problems.append("tenant.domain: a domain name such as \"contoso.onmicrosoft.com\"")
    if "name" in tenant and not isinstance(tenant["name"], str):
        problems.append("tenant.name: a string")
    extra = tenant.get("domains", [])
    if not isinstance(extra, list) or not all(
            isinstance(d, str) and "." in d and "/" not in d for d in extra):
        problems.append("tenant.domains: a list of further verified domains such as "
                        "[\"contoso.example\"] (usable in URLs like the tenant's domain)")
    users = seed.get("users")
    if not isinstance(users, list) or not users:
        return problems + ["users: a list with at least the service account"]
    upns, services = set(), 0
    for where, u in objects(users, "users", sorted(USER_KEYS), problems):
        upn = u.get("upn")
        if not isinstance(upn, str) or upn.count("@") != 1 or upn.startswith("@"):
            problems.append(f"{where}.upn: a user principal name such as \"name@{domain}\"")
        elif upn.lower() in upns:
            problems.append(f"{where}.upn: {upn} appears twice")
        else:
            upns.add(upn.lower())
        if not isinstance(u.get("name"), str) or not u.get("name"):
            problems.append(f"{where}.name: the display name (a string)")
        if "id" in u and not _is_guid(u["id"]):
            problems.append(f"{where}.id: a GUID (the object id)")
        for k in ("given_name", "surname", "mail", "job_title"):
            if k in u and not isinstance(u[k], str):
                problems.append(f"{where}.{k}: a string")
        if "service_account" in u and not isinstance(u["service_account"], bool):
            problems.append(f"{where}.service_account: true or false")
        services += u.get("service_account") is True
    if services != 1:
        problems.append("users: exactly one user needs \"service_account\": true "
                        "(the functional account panels sign in as)")
    tokens = seed.get("tokens", {})
    if not isinstance(tokens, dict):
        problems.append("tokens: an object of settings")
    else:
        problems += _check_settings(tokens, "tokens")
    return problems


def apply_seed(t: Tenant, seed: dict) -> None:
    tenant = seed.get("tenant", {})
    domain = tenant.get("domain", "contoso.onmicrosoft.com")
    info = {"id": tenant.get("id") or _uuid_for("tenant", domain.lower()), "domain": domain,
            "name": tenant.get("name", domain.split(".")[0].capitalize()),
            "domains": tenant.get("domains", []), "created": time.time()}
    t.store.set_meta("tenant", info)
    with t.store.tx() as db:
        for u in seed["users"]:
            db.execute(
                "INSERT INTO users(id, upn, name, given_name, surname, mail, job_title, "
                "service_account) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                (u.get("id") or _uuid_for("user", u["upn"].lower()), u["upn"], u["name"],
                 u.get("given_name"), u.get("surname"), u.get("mail", u["upn"]),
                 u.get("job_title"), int(u.get("service_account", False))))
    t.store.set_meta("settings", {**DEFAULT_SETTINGS, **seed.get("tokens", {})})


# -- users -----------------------------------------------------------------------------------


def service_account(t: Tenant) -> sqlite3.Row:
    return t.store.one("SELECT * FROM users WHERE service_account = 1")


def find_user(t: Tenant, who: str | None) -> sqlite3.Row | None:
    """A user by UPN or object id; the service account when `who` is None."""
    if who is None:
        return service_account(t)
    return t.store.one("SELECT * FROM users WHERE upn = ? OR id = ?", (who, who.lower()))


def user_json(u: sqlite3.Row) -> dict:
    return {"id": u["id"], "upn": u["upn"], "name": u["name"], "mail": u["mail"],
            "service_account": bool(u["service_account"]),
            "tokens_valid_from": iso(u["tokens_valid_from"]) if u["tokens_valid_from"] else None}


def challenge(t: Tenant, who: str | None) -> dict:
    """A critical event that leaves the sign-in valid (a Conditional Access location policy
    evaluated again, say): Graph refuses the user's CAE tokens issued before now with a claims
    challenge, and a refresh answers it. LookupError if the user is unknown."""
    user = find_user(t, who)
    if user is None:
        raise LookupError(f"no user {who!r}")
    now = t.now()
    events = t.store.get_meta("cae_challenges") or {}
    t.store.set_meta("cae_challenges", {**events, user["id"]: now})
    return {**user_json(user), "challenged_at": iso(now)}


def cae_refusal(t: Tenant, claims: dict, user: sqlite3.Row) -> str | None:
    """Why Graph refuses a CAE token now (Graph's words for the event), or None: tokens of a
    client that declared no capability stay valid until they expire, as in Entra. Events are
    compared with the moment the token was issued, kept by its `uti` (its iat is whole
    seconds, and a token issued just after an event must not look issued before it)."""
    if not claims.get("xms_cc"):
        return None
    row = t.store.one("SELECT issued FROM cae_tokens WHERE uti = ?", (str(claims.get("uti")),))
    issued = row["issued"] if row else claims.get("iat", 0)
    if issued < user["tokens_valid_from"]:
        return "TokenIssuedBeforeRevocationTimestamp"
    if issued < (t.store.get_meta("cae_challenges") or {}).get(user["id"], 0):
        return "LocationConditionEvaluationSatisfied"
    return None


def declares_cae(form: dict) -> bool | None:
    """Whether a token request's `claims` declare the CAE capability ("cp1" among the
    access token's xms_cc values); None when `claims` is not a JSON object."""
    raw = form.get("claims")
    if not raw:
        return False
    try:
        claims = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(claims, dict):
        return None
    access = claims.get("access_token")
    cc = access.get("xms_cc") if isinstance(access, dict) else None
    values = cc.get("values") if isinstance(cc, dict) else None
    return isinstance(values, list) and any(str(v).lower() == "cp1" for v in values)


def revoke(t: Tenant, who: str | None) -> dict:
    """Invalidate every refresh token issued to a user so far (Entra's revokeSignInSessions:
    tokens issued before 'tokens valid from' fail with AADSTS50173). LookupError if unknown."""
    user = find_user(t, who)
    if user is None:
        raise LookupError(f"no user {who!r}")
    now = t.now()
    with t.store.tx() as db:
        db.execute("UPDATE users SET tokens_valid_from = ? WHERE id = ?", (now, user["id"]))
    return {**user_json(find_user(t, user["id"])), "revoked_at": iso(now)}


# -- errors, Entra's shape -----------------------------------------------------------------------


def entra_error(req: Request, error: str, code: int, description: str,
                status: int = 400, extra: dict | None = None) -> Response:
    """Entra's error JSON: error, error_description ("AADSTSnnnn: ...\\r\\nTrace ID: ..."),
    error_codes, timestamp, trace_id, correlation_id (the client's client-request-id if sent)."""
    now = req.tenant.now()
    trace = str(uuid.uuid4())
    corr = _correlation_id(req)
    stamp = utc(now)
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\n"
                             f"Correlation ID: {corr}\r\nTimestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": f"{req.tenant.base_url}/error?code={code}",
    }
    body.update(extra or {})
    req.notes["error"] = error
    return json_response(body, status, _no_store(req, trace))


def _correlation_id(req: Request) -> str:
    cid = req.headers.get("client-request-id") or ""
    try:
        return str(uuid.UUID(cid))
    except ValueError:
        return str(uuid.uuid4())


def _no_store(req: Request, trace: str | None = None) -> list[tuple[str, str]]:
    headers = [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"),
               ("x-ms-request-id", trace or str(uuid.uuid4()))]
    if req.headers.get("client-request-id"):
        headers.append(("client-request-id", _correlation_id(req)))
    return headers


def error_response(req: Request, status: int) -> Response:
    """What an injected status looks like on an identity endpoint."""
    if req.path == "/devicelogin":
        return html_response(_page("Sign in", "<p>Sorry, but we're having trouble signing you "
                                   "in. Please try again later.</p>"), status)
    if status == 429:
        return entra_error(req, "temporarily_unavailable", 90055,
                           "There are too many incoming requests.", status)
    if status in (502, 503, 504):
        return entra_error(req, "temporarily_unavailable", 90006,
                           "The service is temporarily unavailable.", status)
    if status >= 500:
        return entra_error(req, "server_error", 50000,
                           "There was an error issuing a token or an issue with our sign-in "
                           "service.", status)
    return entra_error(req, "invalid_request", 90023, "The authentication service request is "
                       "not valid.", status)


def _missing(req: Request, name: str) -> Response:
    return entra_error(req, "invalid_request", 900144,
                       f"The request body must contain the following parameter: '{name}'.")


# -- tenants in the path ---------------------------------------------------------------------


def resolve_tenant(t: Tenant, segment: str) -> str | None:
    """The tenant id for a path's {tenant}: the id, the domain (or another of `domains`),
    common or organizations."""
    info = tenant_info(t)
    s = segment.lower()
    if s in (info["id"].lower(), info["domain"].lower(), "common", "organizations") or \
            s in (d.lower() for d in info.get("domains", [])):
        return info["id"]
    return None


def _tenant_or_error(req: Request) -> str:
    tid = resolve_tenant(req.tenant, req.params["tenant"])
    if tid is None:
        raise HttpError(entra_error(
            req, "invalid_request", 90002,
            f"Tenant '{req.params['tenant']}' not found. Check to make sure you have the correct "
            f"tenant ID and are signing into the correct cloud. Check with your subscription "
            f"administrator, this may happen if there are no active subscriptions for the "
            f"tenant."))
    return tid


def issuer(t: Tenant, tid: str | None = None) -> str:
    return f"{t.base_url}/{tid or tenant_info(t)['id']}/v2.0"


# -- scopes ----------------------------------------------------------------------------------


@dataclass
class Scopes:
    resource: list[str] = field(default_factory=list)  # Graph permissions, canonical short names
    oidc: set[str] = field(default_factory=set)

    def granted(self) -> str:
        """As stored with a grant (and what a refresh may ask for again)."""
        return " ".join(self.resource + [s for s in OIDC_SCOPES if s in self.oidc])

    def response(self) -> str:
        """The token response's `scope` and the access token's `scp` (Entra lists the OIDC
        scopes it consented to, not offline_access): e.g. "User.Read profile openid email"."""
        return " ".join(self.resource + [s for s in ("profile", "openid", "email")
                                         if s in self.oidc])


def parse_scopes(req: Request, raw: str) -> Scopes:
    out = Scopes()
    seen: set[str] = set()
    info = tenant_info(req.tenant)
    for s in raw.split():
        low = s.lower()
        if low in OIDC_SCOPES:
            out.oidc.add(low)
            continue
        name = s
        for prefix in (GRAPH_RESOURCE + "/", GRAPH_APP_ID + "/"):
            if low.startswith(prefix):
                name = s[len(prefix):]
                break
        else:
            if "/" in s or ":" in s:
                resource = s.rsplit("/", 1)[0] if "/" in s else s
                raise HttpError(entra_error(
                    req, "invalid_resource", 500011,
                    f"The resource principal named {resource} was not found in the tenant named "
                    f"{info['name']}. This can happen if the application has not been installed "
                    f"by the administrator of the tenant or consented to by any user in the "
                    f"tenant. You might have sent your authentication request to the wrong "
                    f"tenant."))
        names = DEFAULT_GRAPH_PERMISSIONS if name.lower() == ".default" else (name,)
        for n in names:
            if not SCOPE_NAME.fullmatch(n):
                raise HttpError(entra_error(
                    req, "invalid_scope", 70011,
                    f"The provided value for the input parameter 'scope' is not valid. The scope "
                    f"{s} is not valid."))
            canonical = KNOWN_GRAPH_SCOPES.get(n.lower(), n)
            if canonical.lower() not in seen:
                seen.add(canonical.lower())
                out.resource.append(canonical)
    return out


# -- tokens ----------------------------------------------------------------------------------


def sign_jwt(t: Tenant, claims: dict) -> str:
    kid = b64url(t.signing.thumbprint())
    header = {"typ": "JWT", "alg": "RS256", "x5t": kid, "kid": kid}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode()))
    signature = t.signing.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(signature)


def verify_jwt(t: Tenant, token: str) -> dict:
    """The claims of a token this tenant signed; ValueError if it is not one (signature or
    format). Times are not checked here: see authenticate()."""
    try:
        head, body, sig = token.split(".")
        header = json.loads(b64url_decode(head))
        claims = json.loads(b64url_decode(body))
        signature = b64url_decode(sig)
    except ValueError as e:
        raise ValueError("not a JWT") from e
    if header.get("alg") != "RS256" or header.get("kid") != b64url(t.signing.thumbprint()):
        raise ValueError("not signed by this tenant's key")
    try:
        t.signing.key.public_key().verify(signature, f"{head}.{body}".encode(),
                                          padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as e:
        raise ValueError("bad signature") from e
    return claims


class AuthError(Exception):
    """Why a bearer token was refused (for the Graph module's 401 InvalidAuthenticationToken)."""


def authenticate(t: Tenant, authorization: str | None) -> dict:
    """The claims of a valid Graph access token in an Authorization header; AuthError says why
    not (missing, malformed, bad signature, expired, not yet valid, wrong audience)."""
    if not authorization:
        raise AuthError("Access token is empty.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Access token is empty.")
    try:
        claims = verify_jwt(t, token.strip())
    except ValueError as e:
        raise AuthError("Invalid JWT token. " + str(e).capitalize() + ".") from e
    now = t.now()
    if claims.get("aud") not in (GRAPH_RESOURCE, GRAPH_APP_ID):
        raise AuthError("Invalid audience.")
    if now >= claims.get("exp", 0):
        raise AuthError("Lifetime validation failed, the token is expired.")
    if now + 300 < claims.get("nbf", 0):
        raise AuthError("Lifetime validation failed, the token is not yet valid.")
    return claims


def _timespan(seconds: float) -> str:
    """.NET's TimeSpan text, as Entra writes it: d.hh:mm:ss."""
    s = int(seconds)
    return f"{s // 86400}.{s % 86400 // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _pairwise_sub(oid: str, client_id: str) -> str:
    return b64url(hashlib.sha256(f"{oid}:{client_id}".encode()).digest())


def _opaque(n: int) -> str:
    return secrets.token_urlsafe(n)


def _issue(req: Request, tid: str, user: sqlite3.Row, client_id: str, scopes: Scopes,
           family: str | None, grant: Scopes | None = None, cae: bool = False) -> dict:
    """A token response for `scopes`: access token (a CAE one, longer-lived, for a client that
    declared the capability), refresh token (if the grant has offline_access; it carries the
    whole `grant`, default `scopes`), id token (openid)."""
    grant = grant or scopes
    t = req.tenant
    s = settings(t)
    lifetime = s["cae_access_token_lifetime" if cae else "access_token_lifetime"]
    now = int(t.now())
    family = family or str(uuid.uuid4())
    scp = scopes.response()
    info = tenant_info(t)
    access = {
        "aud": GRAPH_RESOURCE,
        "iss": issuer(t, tid),
        "iat": now, "nbf": now, "exp": now + lifetime,
        "acct": 0, "acr": "1", "aio": _opaque(72), "amr": ["pwd"],
        "appid": client_id, "appidacr": "0",
        "family_name": user["surname"], "given_name": user["given_name"],
        "idtyp": "user", "ipaddr": "127.0.0.1", "name": user["name"], "oid": user["id"],
        "platf": "14", "puid": hashlib.sha256(user["id"].encode()).hexdigest()[:16].upper(),
        "rh": "0.A" + _opaque(60) + ".", "scp": scp, "sid": family,
        "sub": _pairwise_sub(user["id"], GRAPH_APP_ID),
        "tenant_region_scope": "EU", "tid": tid,
        "unique_name": user["upn"], "upn": user["upn"], "uti": _opaque(16), "ver": "1.0",
        "wids": [MEMBER_ROLE_TEMPLATE], "xms_cc": ["cp1"] if cae else None,
        "xms_idrel": "1 12",
        "xms_st": {"sub": _pairwise_sub(user["id"], client_id)},
        "xms_tcdt": int(info.get("created", now)),
    }
    access = {k: v for k, v in access.items() if v is not None}
    if cae:
        with t.store.tx() as db:
            db.execute("INSERT INTO cae_tokens(uti, issued) VALUES(?, ?)",
                       (access["uti"], t.now()))
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": scp,
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": sign_jwt(t, access),
    }
    if "offline_access" in grant.oidc:
        refresh = "1.A" + _opaque(750)
        with t.store.tx() as db:
            db.execute("INSERT INTO refresh_tokens(token_hash, family, user_id, client_id, scope, "
                       "issued, expires) VALUES(?, ?, ?, ?, ?, ?, ?)",
                       (digest(refresh), family, user["id"], client_id, grant.granted(),
                        t.now(), t.now() + s["refresh_token_lifetime"]))
        body["refresh_token"] = refresh
    if "openid" in scopes.oidc:
        id_claims = {
            "aud": client_id, "iss": issuer(t, tid), "iat": now, "nbf": now, "exp": now + 3600,
            "aio": _opaque(72), "name": user["name"], "oid": user["id"],
            "preferred_username": user["upn"], "rh": "0.A" + _opaque(60) + ".", "sid": family,
            "sub": _pairwise_sub(user["id"], client_id), "tid": tid, "uti": _opaque(16),
            "ver": "2.0",
        }
        if "email" in scopes.oidc and user["mail"]:
            id_claims["email"] = user["mail"]
        body["id_token"] = sign_jwt(t, id_claims)
    if req.form().get("client_info") == "1":
        body["client_info"] = b64url(json.dumps({"uid": user["id"], "utid": tid}).encode())
    return body


# -- discovery ---------------------------------------------------------------------------------


def openid_configuration(req: Request) -> Response:
    t = req.tenant
    segment = req.params["tenant"]
    tid = resolve_tenant(t, segment)
    if tid is None:
        return entra_error(req, "invalid_tenant", 90002,
                           f"Tenant '{segment}' not found. Check to make sure you have the "
                           f"correct tenant ID and are signing into the correct cloud. Check with "
                           f"your subscription administrator, this may happen if there are no "
                           f"active subscriptions for the tenant.")
    alias = segment.lower() in ("common", "organizations")
    path = segment.lower() if alias else tid
    base = f"{t.base_url}/{path}"
    host = t.base_url.split("://", 1)[1]
    doc = {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                  "client_secret_basic"],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{t.base_url}/{{tenantid}}/v2.0" if alias else issuer(t, tid),
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{t.base_url}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                             "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat",
                             "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
                             "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": None if alias else "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": host,
        "rbac_url": "https://pas.windows.net",
    }
    return json_response(doc, 200, [("Cache-Control", "max-age=86400, private"),
                                     ("Access-Control-Allow-Origin", "*")])


def instance_discovery(req: Request) -> Response:
    """GET /common/discovery/instance: what MSAL asks when instance discovery is on and it is
    pointed here (instance_discovery="https://.../common/discovery/instance")."""
    t = req.tenant
    endpoint = req.arg("authorization_endpoint") or ""
    host = t.base_url.split("://", 1)[1]
    # MSAL sends the authority's host name without its port.
    m = re.fullmatch(r"https://([^/:]+)(?::\d+)?/([^/]+)/oauth2(?:/v2\.0)?/authorize", endpoint)
    if not m or m.group(1).lower() not in ("127.0.0.1", "localhost"):
        return entra_error(req, "invalid_instance", 50049,
                           "Unknown or invalid instance.")
    tenant = m.group(2)
    return json_response({
        "tenant_discovery_endpoint": f"{t.base_url}/{tenant}/v2.0/.well-known/"
                                     f"openid-configuration",
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    })


def jwks(req: Request) -> Response:
    t = req.tenant
    _tenant_or_error(req)
    pub = t.signing.key.public_key().public_numbers()
    kid = b64url(t.signing.thumbprint())
    cert = base64.b64encode(t.signing.cert.public_bytes(serialization.Encoding.DER)).decode()
    key = {"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid,
           "n": b64url(pub.n.to_bytes((pub.n.bit_length() + 7) // 8, "big")),
           "e": b64url(pub.e.to_bytes((pub.e.bit_length() + 7) // 8, "big")),
           "x5c": [cert], "issuer": issuer(t)}
    return json_response({"keys": [key]}, 200, [("Cache-Control", "max-age=86400, private")])


def error_page(req: Request) -> Response:
    """GET /error?code=N: where error_uri points (Entra's is login.microsoftonline.com/error)."""
    code = re.sub(r"\D", "", req.arg("code", "") or "")[:9]
    return html_response(_page(f"AADSTS{code}", (
        f"<p>Error AADSTS{html.escape(code)} from the Lintel fake tenant. Microsoft explains its "
        f"codes in \u201cMicrosoft Entra authentication and authorization error codes\u201d; "
        f"docs/tenant.md lists the ones this tenant sends.</p>")))


def post_only(req: Request) -> Response:
    return entra_error(req, "invalid_request", 900561,
                       f"The endpoint only accepts POST, OPTIONS requests. Received a "
                       f"{req.method} request.")


def authorize(req: Request) -> Response:
    return html_response(_page(
        "Sign in",
        "<p>This fake tenant signs panels in with the device code flow only. Open "
        f"<a href=\"/devicelogin\">{html.escape(req.tenant.base_url)}/devicelogin</a> and enter "
        "the code the device shows.</p>"), 400)


# -- the device authorization grant --------------------------------------------------------------


def _new_user_code() -> str:
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def normalize_user_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").upper()


def devicecode(req: Request) -> Response:
    t = req.tenant
    _tenant_or_error(req)
    form = req.form()
    client_id = form.get("client_id", "").strip()
    if not client_id:
        return _missing(req, "client_id")
    if "scope" not in form or not form["scope"].strip():
        return _missing(req, "scope")
    if form.get("client_secret") or form.get("client_assertion"):
        return entra_error(req, "invalid_client", 700025, "Client is public so neither "
                           "'client_assertion' nor 'client_secret' should be presented.", 401)
    scopes = parse_scopes(req, form["scope"])
    s = settings(t)
    now = t.now()
    device_code = "DAQABIQEAAAD" + _opaque(150)
    with t.store.tx() as db:
        while True:
            user_code = _new_user_code()
            try:
                db.execute("INSERT INTO device_codes(code_hash, user_code, client_id, scope, "
                           "created, expires, interval) VALUES(?, ?, ?, ?, ?, ?, ?)",
                           (digest(device_code), user_code, client_id, scopes.granted(), now,
                            now + s["device_code_lifetime"], s["poll_interval"]))
                break
            except sqlite3.IntegrityError:
                continue
    uri = f"{t.base_url}/devicelogin"
    return json_response({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": uri,
        "expires_in": s["device_code_lifetime"],
        "interval": s["poll_interval"],
        "message": f"To sign in, use a web browser to open the page {uri} and enter the code "
                   f"{user_code} to authenticate.",
    }, 200, _no_store(req))


def _bad_claims(req: Request) -> Response:
    return entra_error(req, "invalid_request", 90100, "The 'claims' parameter is empty or "
                       "not valid: it must be a JSON object.")


def _device_code_grant(req: Request, tid: str, form: dict) -> Response:
    t = req.tenant
    code = form.get("device_code")
    if not code:
        return _missing(req, "device_code")
    cae = declares_cae(form)
    if cae is None:
        return _bad_claims(req)
    now = t.now()
    with t.store.tx() as db:
        row = db.execute("SELECT * FROM device_codes WHERE code_hash = ?",
                         (digest(code),)).fetchone()
        if row is None or row["status"] == "redeemed":
            return entra_error(req, "bad_verification_code", 70018,
                               "Invalid verification code. The device_code was not recognized; "
                               "it may have been redeemed already.")
        if row["client_id"] != form.get("client_id"):
            return entra_error(req, "invalid_grant", 70000,
                               "Provided grant is invalid or malformed. The device code was "
                               "issued to another client.")
        interval = row["interval"]
        waiting = row["status"] == "pending" and now < row["expires"]
        # Polled sooner than the interval (with a little slack for the client's own timing):
        # RFC 8628's slow_down, and the interval grows by 5 s for every later poll.
        too_soon = waiting and row["last_poll"] is not None and \
            now - row["last_poll"] < interval - min(1.0, 0.2 * interval)
        db.execute("UPDATE device_codes SET last_poll = ?, polls = polls + 1, interval = ? "
                   "WHERE id = ?", (now, interval + 5 if too_soon else interval, row["id"]))
        if now >= row["expires"]:
            return entra_error(req, "expired_token", 70019,
                               "Verification code expired. Have the user retry the sign-in.")
        if row["status"] == "declined":
            return entra_error(req, "authorization_declined", 65004,
                               "User declined to consent to access the app.")
        if too_soon:
            return entra_error(req, "slow_down", 70016,
                               f"OAuth 2.0 device flow error. Authorization is pending and the "
                               f"device polled sooner than every {interval} seconds: poll every "
                               f"{interval + 5} seconds from now on.")
        if row["status"] == "pending":
            return entra_error(req, "authorization_pending", 70016,
                               "OAuth 2.0 device flow error. Authorization is pending. Continue "
                               "polling.")
        # approved: redeem it exactly once
        db.execute("UPDATE device_codes SET status = 'redeemed' WHERE id = ?", (row["id"],))
        user = db.execute("SELECT * FROM users WHERE id = ?", (row["user_id"],)).fetchone()
        scopes = parse_scopes(req, row["scope"])
        body = _issue(req, tid, user, row["client_id"], scopes, None, cae=cae)
    return json_response(body, 200, _no_store(req))


def _refresh_grant(req: Request, tid: str, form: dict) -> Response:
    t = req.tenant
    token = form.get("refresh_token")
    if not token:
        return _missing(req, "refresh_token")
    cae = declares_cae(form)
    if cae is None:
        return _bad_claims(req)
    now = t.now()
    with t.store.tx() as db:
        row = db.execute("SELECT * FROM refresh_tokens WHERE token_hash = ?",
                         (digest(token),)).fetchone()
        if row is None:
            return entra_error(req, "invalid_grant", 9002313,
                               "Invalid request. Request is malformed or invalid.")
        if row["client_id"] != form.get("client_id"):
            return entra_error(req, "invalid_grant", 70000,
                               "Provided grant is invalid or malformed. The refresh token was "
                               "issued to another client.")
        user = db.execute("SELECT * FROM users WHERE id = ?", (row["user_id"],)).fetchone()
        if user is None or row["issued"] < user["tokens_valid_from"]:
            valid_from = utc(user["tokens_valid_from"]) if user else utc(now)
            return entra_error(
                req, "invalid_grant", 50173,
                f"The provided grant has expired due to it being revoked, a fresh auth token is "
                f"needed. The user might have changed or reset their password. The grant was "
                f"issued on '{utc(row['issued'])}' and the TokensValidFrom date (before which "
                f"tokens are not valid) for this user is '{valid_from}'.")
        if now >= row["expires"]:
            return entra_error(
                req, "invalid_grant", 700082,
                f"The refresh token has expired due to inactivity. The token was issued on "
                f"{utc(row['issued'])} and was inactive for {_timespan(now - row['issued'])}.")
        if row["used"] is not None and settings(t)["refresh_token_reuse"] == "reject":
            return entra_error(
                req, "invalid_grant", 70008,
                "The provided authorization code or refresh token has expired due to inactivity "
                "or was revoked. This refresh token was already redeemed and replaced by a newer "
                "one (this tenant's refresh_token_reuse setting is \"reject\").")
        granted = parse_scopes(req, row["scope"])
        if form.get("scope", "").strip():
            asked = parse_scopes(req, form["scope"])
            have = {s.lower() for s in granted.resource}
            missing = [s for s in asked.resource if s.lower() not in have]
            if missing:
                return entra_error(
                    req, "invalid_grant", 65001,
                    f"The user or administrator has not consented to use the application with "
                    f"ID '{row['client_id']}'. Send an interactive authorization request for "
                    f"this user and resource. (Not granted: {' '.join(missing)}.)",
                    extra={"suberror": "consent_required"})
            # This access token: the permissions asked for (a subset of the grant), the
            # OIDC scopes asked for; the new refresh token still carries the whole grant.
            scopes = Scopes(asked.resource or granted.resource,
                            asked.oidc & {"openid", "profile", "email"})
        else:
            scopes = granted
        if row["used"] is None:
            db.execute("UPDATE refresh_tokens SET used = ? WHERE id = ?", (now, row["id"]))
        body = _issue(req, tid, user, row["client_id"], scopes, row["family"], granted, cae)
    return json_response(body, 200, _no_store(req))


def token(req: Request) -> Response:
    tid = _tenant_or_error(req)
    form = req.form()
    grant = form.get("grant_type")
    if not grant:
        return _missing(req, "grant_type")
    if not form.get("client_id", "").strip():
        return _missing(req, "client_id")
    if form.get("client_secret") or form.get("client_assertion"):
        return entra_error(req, "invalid_client", 700025, "Client is public so neither "
                           "'client_assertion' nor 'client_secret' should be presented.", 401)
    if grant == DEVICE_CODE_GRANT:
        return _device_code_grant(req, tid, form)
    if grant == "refresh_token":
        return _refresh_grant(req, tid, form)
    return entra_error(req, "unsupported_grant_type", 70003,
                       f"The app requested an unsupported grant type '{grant}'.")


# -- approving a code: the verification page and the admin API ---------------------------------


class DecisionError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def decide(t: Tenant, user_code: str, approve: bool, who: str | None = None) -> dict:
    """Approve (as `who`, default the service account) or decline a pending user code."""
    code = normalize_user_code(user_code)
    if not code:
        raise DecisionError(400, "AADSTS90119: The user code is null or empty.")
    user = find_user(t, who)
    if user is None:
        raise DecisionError(404, f"no user {who!r} in this tenant")
    now = t.now()
    with t.store.tx() as db:
        row = db.execute("SELECT * FROM device_codes WHERE user_code = ?", (code,)).fetchone()
        if row is None:
            raise DecisionError(404, f"no device code with user code {code}")
        if now >= row["expires"]:
            raise DecisionError(409, f"user code {code} has expired")
        if row["status"] != "pending":
            raise DecisionError(409, f"AADSTS90120: The request was already authorized or "
                                     f"declined (user code {code} is {row['status']})")
        db.execute("UPDATE device_codes SET status = ?, user_id = ?, decided = ? WHERE id = ?",
                   ("approved" if approve else "declined", user["id"], now, row["id"]))
    return {"user_code": code, "status": "approved" if approve else "declined",
            "user": user["upn"], "client_id": row["client_id"], "scope": row["scope"]}


def device_codes(t: Tenant, pending_only: bool = False) -> list[dict]:
    now = t.now()
    rows = t.store.all("SELECT d.*, u.upn FROM device_codes d LEFT JOIN users u "
                       "ON u.id = d.user_id ORDER BY d.id")
    out = []
    for r in rows:
        status = "expired" if r["status"] in ("pending", "approved") and now >= r["expires"] \
            else r["status"]
        if pending_only and status != "pending":
            continue
        out.append({"user_code": r["user_code"], "client_id": r["client_id"],
                    "scope": r["scope"], "status": status, "user": r["upn"],
                    "created": iso(r["created"]), "expires_in": max(0, int(r["expires"] - now)),
                    "interval": r["interval"], "polls": r["polls"]})
    return out


def _page(title: str, inner: str) -> str:
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;"
            f"max-width:28em;margin:3em auto;padding:0 1em}}input{{font-size:1.4em;"
            f"letter-spacing:.15em;width:100%}}button{{font-size:1.1em;margin:.6em .4em 0 0}}"
            f"</style></head><body><h1>{html.escape(title)}</h1>{inner}</body></html>")


def devicelogin_form(req: Request) -> Response:
    t = req.tenant
    sa = service_account(t)
    info = tenant_info(t)
    prefill = html.escape(normalize_user_code(req.arg("otc", "") or ""))
    return html_response(_page("Enter code", (
        f"<p>Enter the code displayed on the panel to sign it in to {html.escape(info['name'])}."
        f"</p><form method=\"post\" action=\"/devicelogin\"><input name=\"otc\" value=\""
        f"{prefill}\" placeholder=\"Code\" autocomplete=\"off\" autofocus required>"
        f"<p>Signing in as <b>{html.escape(sa['name'])}</b> ({html.escape(sa['upn'])})</p>"
        f"<button name=\"action\" value=\"approve\">Approve</button>"
        f"<button name=\"action\" value=\"deny\">Deny</button></form>")))


def devicelogin_submit(req: Request) -> Response:
    form = req.form()
    approve = form.get("action", "approve") != "deny"
    try:
        result = decide(req.tenant, form.get("otc", ""), approve)
    except DecisionError as e:
        req.notes["error"] = "bad_user_code"
        text = ("That code didn't work. Check the code and try again." if e.status == 404
                else "The code you entered has expired. Get a new code from the panel and try "
                     "again." if "expired" in str(e) else str(e).split(": ", 1)[-1])
        return html_response(_page("Enter code", f"<p>{html.escape(text)}</p>"
                                   "<p><a href=\"/devicelogin\">Try again</a></p>"), 400)
    if approve:
        return html_response(_page("You're signed in", (
            f"<p>{html.escape(result['user'])} signed in to the application on your device. "
            f"You may now close this window.</p>")))
    return html_response(_page("Sign-in cancelled", "<p>You declined to sign in to the "
                               "application on your device. You may now close this window.</p>"))


# -- routes ------------------------------------------------------------------------------------


def register(t: Tenant) -> None:
    me = sys.modules[__name__]
    tenant = r"(?P<tenant>[^/]+)"
    add = t.router.add
    add("GET", rf"/{tenant}/v2\.0/\.well-known/openid-configuration", openid_configuration, me)
    add("GET", r"/common/discovery/instance", instance_discovery, me)
    add("GET", rf"/{tenant}/discovery/v2\.0/keys", jwks, me)
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        add(method, rf"/{tenant}/oauth2/v2\.0/devicecode", post_only, me)
        add(method, rf"/{tenant}/oauth2/v2\.0/token", post_only, me)
    add("POST", rf"/{tenant}/oauth2/v2\.0/devicecode", devicecode, me)
    add("POST", rf"/{tenant}/oauth2/v2\.0/token", token, me)
    add("GET", rf"/{tenant}/oauth2/v2\.0/authorize", authorize, me)
    add("GET", r"/error", error_page, me)
    add("GET", r"/devicelogin", devicelogin_form, me)
    add("POST", r"/devicelogin", devicelogin_submit, me)
