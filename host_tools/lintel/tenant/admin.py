"""The fake tenant's admin API (JSON under /_admin/): approve or deny device codes, read the
request log, revoke tokens or challenge them (continuous access evaluation), change token
lifetimes, move the clock, inject faults.

It listens on 127.0.0.1 with the rest of the tenant and has no authentication: it is a test
control. Its own requests are neither logged nor subject to injected faults. docs/tenant.md
documents every call.
"""

from __future__ import annotations

import sys
from typing import Any

from lintel.tenant import identity
from lintel.tenant.server import HttpError, Request, Response, Tenant, json_response

NAME = "admin"
SEED_KEYS: tuple[str, ...] = ()


def init_store(store) -> None:
    pass


def _error(status: int, message: str) -> HttpError:
    return HttpError(json_response({"error": message}, status))


def _object(req: Request) -> dict:
    body = req.json()
    if not isinstance(body, dict):
        raise _error(400, "the body must be a JSON object")
    return body


def _int_arg(req: Request, name: str, default: int | None) -> int | None:
    value = req.arg(name)
    if value is None:
        return default
    try:
        n = int(value)
    except ValueError:
        raise _error(400, f"?{name}= must be a whole number") from None
    if n < 0:
        raise _error(400, f"?{name}= must be 0 or more")
    return n


# -- the tenant ------------------------------------------------------------------------------


def tenant_summary(req: Request) -> Response:
    t = req.tenant
    info = identity.tenant_info(t)
    users = t.store.all("SELECT * FROM users ORDER BY service_account DESC, upn")
    sa = identity.service_account(t)
    return json_response({
        "base_url": t.base_url,
        "tenant_id": info["id"],
        "domain": info["domain"],
        "name": info["name"],
        "authority": f"{t.base_url}/{info['id']}",
        "issuer": identity.issuer(t),
        "openid_configuration": f"{t.base_url}/{info['id']}/v2.0/.well-known/"
                                f"openid-configuration",
        "verification_uri": f"{t.base_url}/devicelogin",
        "ca_certificate": str(t.ca_path),
        "service_account": identity.user_json(sa),
        "users": [identity.user_json(u) for u in users],
        "settings": identity.settings(t),
        "modules": [getattr(m, "NAME", m.__name__) for m in t.modules],
    })


def get_settings(req: Request) -> Response:
    return json_response(identity.settings(req.tenant))


def set_settings(req: Request) -> Response:
    try:
        return json_response(identity.update_settings(req.tenant, _object(req)))
    except ValueError as e:
        raise _error(400, str(e)) from e


# -- device codes ------------------------------------------------------------------------------


def list_device_codes(req: Request) -> Response:
    pending = (req.arg("status") or "") == "pending"
    return json_response(identity.device_codes(req.tenant, pending_only=pending))


def _decide(req: Request, approve: bool) -> Response:
    body = _object(req)
    code = body.get("user_code")
    who = body.get("user")
    if not isinstance(code, str):
        raise _error(400, "give {\"user_code\": \"...\"}")
    if who is not None and not isinstance(who, str):
        raise _error(400, "\"user\" is a user principal name or object id")
    try:
        return json_response(identity.decide(req.tenant, code, approve, who))
    except identity.DecisionError as e:
        raise _error(e.status, str(e)) from e


def approve(req: Request) -> Response:
    return _decide(req, True)


def deny(req: Request) -> Response:
    return _decide(req, False)


# -- tokens ------------------------------------------------------------------------------------


def _for_user(req: Request, event) -> Response:
    body = _object(req)
    who = body.get("user")
    if who is not None and not isinstance(who, str):
        raise _error(400, "\"user\" is a user principal name or object id (default: the "
                          "service account)")
    try:
        return json_response(event(req.tenant, who))
    except LookupError as e:
        raise _error(404, str(e)) from e


def revoke_tokens(req: Request) -> Response:
    return _for_user(req, identity.revoke)


def challenge_tokens(req: Request) -> Response:
    return _for_user(req, identity.challenge)


# -- the request log -----------------------------------------------------------------------------


def requests_log(req: Request) -> Response:
    t = req.tenant
    rows = t.store.requests(since=_int_arg(req, "since", 0), limit=_int_arg(req, "limit", None))
    for r in rows:
        r["time"] = identity.iso(r["time"])
    return json_response(rows)


def clear_requests(req: Request) -> Response:
    req.tenant.store.clear_requests()
    return json_response({"cleared": True})


# -- faults ------------------------------------------------------------------------------------


def add_faults(req: Request) -> Response:
    body = req.json()
    specs = body if isinstance(body, list) else [body]
    added: list[dict[str, Any]] = []
    for spec in specs:
        try:
            added.append(req.tenant.faults.add(spec).describe())
        except ValueError as e:
            for f in added:  # all or nothing
                req.tenant.faults.clear(f["id"])
            raise _error(400, f"fault: {e}") from e
    return json_response(added if isinstance(body, list) else added[0], 201)


def list_faults(req: Request) -> Response:
    return json_response(req.tenant.faults.list())


def clear_faults(req: Request) -> Response:
    fault_id = req.params.get("id")
    n = req.tenant.faults.clear(int(fault_id) if fault_id else None)
    if fault_id and not n:
        raise _error(404, f"no fault {fault_id}")
    return json_response({"cleared": n})


# -- the clock, statistics, the outbox stub ------------------------------------------------------


def get_clock(req: Request) -> Response:
    t = req.tenant
    return json_response({"now": identity.iso(t.now()), "epoch": t.now(),
                          "offset": t.clock_offset})


def set_clock(req: Request) -> Response:
    t = req.tenant
    body = _object(req)
    for key in ("advance", "offset"):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise _error(400, f"\"{key}\" is seconds (a number)")
    if "offset" in body:
        t.clock_offset = float(body["offset"])
    if "advance" in body:
        t.clock_offset += float(body["advance"])
    if not {"offset", "advance"} & set(body):
        raise _error(400, "give {\"advance\": seconds} or {\"offset\": seconds}")
    return get_clock(req)


def stats(req: Request) -> Response:
    t = req.tenant
    with t.stats_lock:
        out = dict(t.stats)
    row = t.store.one("SELECT COUNT(*) AS n, COALESCE(SUM(bytes_in), 0) AS bin, "
                      "COALESCE(SUM(bytes_out), 0) AS bout FROM requests")
    out.update(requests=row["n"], bytes_in=row["bin"], bytes_out=row["bout"])
    return json_response(out)


def outbox(req: Request) -> Response:
    """A stub until the Graph module (sendMail) replaces this route."""
    return json_response([])


def register(t: Tenant) -> None:
    me = sys.modules[__name__]
    add = t.router.add
    add("GET", r"/_admin/tenant", tenant_summary, me)
    add("GET", r"/_admin/settings", get_settings, me)
    add("POST", r"/_admin/settings", set_settings, me)
    add("PATCH", r"/_admin/settings", set_settings, me)
    add("GET", r"/_admin/device", list_device_codes, me)
    add("POST", r"/_admin/device/approve", approve, me)
    add("POST", r"/_admin/device/deny", deny, me)
    add("POST", r"/_admin/tokens/revoke", revoke_tokens, me)
    add("POST", r"/_admin/tokens/challenge", challenge_tokens, me)
    add("GET", r"/_admin/requests", requests_log, me)
    add("DELETE", r"/_admin/requests", clear_requests, me)
    add("GET", r"/_admin/faults", list_faults, me)
    add("POST", r"/_admin/faults", add_faults, me)
    add("DELETE", r"/_admin/faults", clear_faults, me)
    add("DELETE", r"/_admin/faults/(?P<id>\d+)", clear_faults, me)
    add("GET", r"/_admin/clock", get_clock, me)
    add("POST", r"/_admin/clock", set_clock, me)
    add("GET", r"/_admin/stats", stats, me)
    add("GET", r"/_admin/outbox", outbox, me)
