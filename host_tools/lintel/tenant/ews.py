"""Exchange Web Services (EWS), the on-premises half a door panel uses: SOAP 1.1 at
`POST /EWS/Exchange.asmx`, as Exchange Server 2019 answers it, over the same store as graph.py.
The same rooms, room lists and events (recurring series expanded), the room mailboxes'
Set-CalendarProcessing behaviour and privacy, the same rights of the service account and the
same outbox: a panel on EWS and a panel on Graph see the same day, and an item's EWS id is its
Graph id in Exchange's own (non URL-safe) Base64.

Operations: FindItem, GetItem, CreateItem (calendar items, messages, Accept/TentativelyAccept/
DeclineItem, CancelCalendarItem), UpdateItem, DeleteItem, GetFolder, GetUserAvailability,
GetRoomLists, GetRooms, ResolveNames, GetServerTimeZones and ConvertId.

Authentication is IIS's: Basic, and NTLM (Negotiate and NTLM are offered on a 401), checked by
pyspnego's NTLM acceptor against a credential file this module writes into the state folder. NTLM
authenticates the kept-alive connection (server.Request.connection), Basic each request.

Shapes follow Microsoft Learn's "EWS XML elements in Exchange" and the operation pages (FindItem,
GetUserAvailability, GetRoomLists, GetRooms, CreateItem, ...), "EWS throttling in Exchange" for
ErrorServerBusy. docs/tenant.md, "Exchange Web Services", lists what is served and where this fake
chooses or simplifies.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import html
import http
import json
import os
import re
import sqlite3
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeXml
import spnego
from defusedxml import DefusedXmlException
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1  # the hashes NTLM_USER_FILE holds
from spnego._ntlm_raw.messages import Authenticate  # the user a failed logon names
from spnego.exceptions import SpnegoError

from lintel.tenant import graph, identity
from lintel.tenant.graph import Inst, Mailbox, Zone
from lintel.tenant.seed import objects, unknown_keys
from lintel.tenant.server import HttpError, Request, Response, Tenant, json_response

NAME = "ews"
SEED_KEYS = ("ews",)

PATH = "/EWS/Exchange.asmx"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
M_NS = "http://schemas.microsoft.com/exchange/services/2006/messages"
T_NS = "http://schemas.microsoft.com/exchange/services/2006/types"
E_NS = "http://schemas.microsoft.com/exchange/services/2006/errors"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
# Exchange Server 2019 CU14 (15.2.1544.4); 2016 and 2019 report the schema version V2017_07_11.
BUILD = (15, 2, 1544, 4)
SCHEMA_VERSION = "V2017_07_11"
_VERSION = re.compile(r"Exchange20(07|10|13)(_SP[12])?|Exchange2015(_SP1)?|Exchange2016|"
                      r"V20\d\d_\d\d_\d\d")
USER_FILE = "ews_ntlm_users"  # in the state folder: NTLM_USER_FILE for pyspnego's acceptor
DEFAULT_BACK_OFF_MS = 5000
MAX_AVAILABILITY_MAILBOXES = 100
MAX_AVAILABILITY_DAYS = 62

ACCESS_DENIED = graph.ACCESS_DENIED  # "Access is denied. Check credentials and try again."
NO_MAILBOX = "The SMTP address has no mailbox associated with it."
ITEM_NOT_FOUND = graph.NOT_FOUND  # "The specified object was not found in the store."
FOLDER_NOT_FOUND = "The specified folder could not be found in the store."
SERVER_BUSY = "The server cannot service this request right now. Try again later."
# The texts Exchange sends with a code; where Microsoft documents none, ours (in parentheses a
# hint), as graph.py does.
MESSAGES = {
    "ErrorAccessDenied": ACCESS_DENIED,
    "ErrorNonExistentMailbox": NO_MAILBOX,
    "ErrorItemNotFound": ITEM_NOT_FOUND,
    "ErrorFolderNotFound": FOLDER_NOT_FOUND,
    "ErrorServerBusy": SERVER_BUSY,
    "ErrorInvalidIdMalformed": "Id is malformed.",
    "ErrorInvalidRequest": "The request is invalid.",
    "ErrorNameResolutionNoResults": "No results were found.",
    "ErrorInternalServerError": "An internal server error occurred. The operation failed.",
    "ErrorMailboxStoreUnavailable": "The mailbox database is temporarily unavailable.",
    "ErrorTimeoutExpired": "The operation couldn't be completed in the time allowed.",
    "ErrorInvalidRecipients": graph.NO_RECIPIENTS,
    "ErrorSendAsDenied": graph.SEND_AS_DENIED,
    "ErrorCalendarEndDateIsEarlierThanStartDate": "EndDate is earlier than StartDate",
}

# The folders a mailbox has here (distinguished ids), with their EWS element and folder class.
FOLDERS = {
    "root": ("t:Folder", None, "Root"),
    "msgfolderroot": ("t:Folder", "IPF.Note", "Top of Information Store"),
    "calendar": ("t:CalendarFolder", "IPF.Appointment", "Calendar"),
    "inbox": ("t:Folder", "IPF.Note", "Inbox"),
    "sentitems": ("t:Folder", "IPF.Note", "Sent Items"),
    "drafts": ("t:Folder", "IPF.Note", "Drafts"),
    "deleteditems": ("t:Folder", "IPF.Note", "Deleted Items"),
    "outbox": ("t:Folder", "IPF.Note", "Outbox"),
}
FOLDER_NAMES = tuple(FOLDERS)
# Distinguished folder ids of EWS's schema that this tenant does not model: ErrorFolderNotFound.
OTHER_FOLDERS = frozenset({
    "contacts", "journal", "notes", "tasks", "junkemail", "searchfolders", "voicemail",
    "publicfoldersroot", "recoverableitemsroot", "recoverableitemsdeletions", "archiveroot",
    "archivemsgfolderroot", "conversationhistory", "favorites", "syncissues", "conflicts",
    "localfailures", "serverfailures", "recipientcache", "quickcontacts", "imcontactlist",
    "todosearch", "directory", "scheduled", "archiveinbox", "archivedeleteditems",
    "recoverableitemsversions", "recoverableitemspurges", "adminauditlogs", "mycontacts",
    "peopleconnect", "allitems", "allcontacts", "allcategorizeditems", "allpersonmetadata",
    "companycontacts", "organizationalcontacts", "connectors", "clutter", "fromfavoritesenders",
    "calendarsearchcache", "files",
})

FREE_BUSY = {"free": "Free", "tentative": "Tentative", "busy": "Busy", "oof": "OOF",
             "workingElsewhere": "WorkingElsewhere", "unknown": "NoData"}
SHOW_AS = {v.lower(): k for k, v in FREE_BUSY.items()}
DIGITS = {"Free": "0", "Tentative": "1", "Busy": "2", "OOF": "3", "WorkingElsewhere": "4",
          "NoData": "5"}
ITEM_TYPES = {"singleInstance": "Single", "occurrence": "Occurrence", "exception": "Exception",
              "seriesMaster": "RecurringMaster"}
RESPONSES = {"organizer": "Organizer", "accepted": "Accept", "tentativelyAccepted": "Tentative",
             "declined": "Decline", "none": "NoResponseReceived",
             "notResponded": "NoResponseReceived"}
ATTENDEE_LISTS = (("RequiredAttendees", "required"), ("OptionalAttendees", "optional"),
                  ("Resources", "resource"))
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# -- the store and the seed -----------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS ews_accounts (
    logon    TEXT PRIMARY KEY COLLATE NOCASE,
    upn      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    nt_hash  TEXT NOT NULL,
    lm_hash  TEXT NOT NULL,
    locked   INTEGER NOT NULL DEFAULT 0,
    failed   INTEGER NOT NULL DEFAULT 0,
    last     REAL
);
"""
ACCOUNT_KEYS = {"upn", "logon", "password", "locked"}
_SMTP = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+")
_NETBIOS = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{0,14}")
_LOGON = re.compile(r"[^\"/\\\[\]:;|=,+*?<>@\s]{1,20}")


def init_store(store) -> None:
    store.ensure_schema(SCHEMA)


def validate_seed(seed: dict) -> list[str]:
    e = seed.get("ews")
    if e is None:
        return []
    if not isinstance(e, dict):
        return ["ews: {\"domain\": \"CONTOSO\", \"accounts\": [{\"upn\", \"logon\", "
                "\"password\"}]}"]
    problems = unknown_keys(e, ("accounts", "domain"), "ews", comments=True)
    if not (isinstance(e.get("domain"), str) and _NETBIOS.fullmatch(e["domain"])):
        problems.append("ews.domain: the NetBIOS domain name, such as \"CONTOSO\" (1-15 letters, "
                        "digits or dashes)")
    users = {u["upn"].lower() for u in seed.get("users") or []
             if isinstance(u, dict) and isinstance(u.get("upn"), str)}
    accounts = e.get("accounts")
    if not isinstance(accounts, list) or not accounts:
        return problems + ["ews.accounts: a list of accounts ({\"upn\", \"logon\", \"password\"})"]
    seen: set[str] = set()
    for where, a in objects(accounts, "ews.accounts", sorted(ACCOUNT_KEYS), problems,
                            comments=True):
        upn, logon = a.get("upn"), a.get("logon")
        if not isinstance(upn, str) or upn.lower() not in users:
            problems.append(f"{where}.upn: a user of the seed's users (their UPN), whose "
                            "mailbox rights the rooms give")
        if not isinstance(logon, str) or not _LOGON.fullmatch(logon):
            problems.append(f"{where}.logon: the pre-Windows 2000 logon name, such as "
                            "\"svc-panels\" (up to 20 characters, no \\ / @ : and the like)")
        for name in (upn, logon):
            if isinstance(name, str):
                if name.lower() in seen:
                    problems.append(f"{where}: {name} appears twice")
                seen.add(name.lower())
        if not isinstance(a.get("password"), str) or not a["password"] or \
                len(a["password"]) > 256:
            problems.append(f"{where}.password: the account's password (a non-empty string)")
        if "locked" in a and not isinstance(a["locked"], bool):
            problems.append(f"{where}.locked: true or false")
    return problems


def apply_seed(t: Tenant, seed: dict) -> None:
    e = seed.get("ews")
    if e is None:
        return
    t.store.set_meta("ews", {"domain": e["domain"].upper()})
    with t.store.tx() as db:
        for a in e["accounts"]:
            upn = identity.find_user(t, a["upn"])["upn"]  # the directory's spelling
            db.execute("INSERT INTO ews_accounts(logon, upn, nt_hash, lm_hash, locked) "
                       "VALUES(?, ?, ?, ?, ?)",
                       (a["logon"], upn, ntowfv1(a["password"]).hex().upper(),
                        lmowfv1(a["password"]).hex().upper(), int(a.get("locked", False))))


def domain(t: Tenant) -> str | None:
    """The NetBIOS domain the accounts log on to; None without an `ews` seed key."""
    return (t.store.get_meta("ews") or {}).get("domain")


def accounts(t: Tenant) -> list[sqlite3.Row]:
    return t.store.all("SELECT * FROM ews_accounts ORDER BY logon")


def find_account(t: Tenant, name: str) -> sqlite3.Row | None:
    """An account by the names IIS takes: DOMAIN\\logon, logon, the UPN, or logon@ one of the
    tenant's domains."""
    name = name.strip()
    if "\\" in name:
        dom, _, logon = name.partition("\\")
        if dom.upper() != (domain(t) or "").upper():
            return None
        return t.store.one("SELECT * FROM ews_accounts WHERE logon = ?", (logon,))
    row = t.store.one("SELECT * FROM ews_accounts WHERE logon = ? OR upn = ?", (name, name))
    if row is not None or "@" not in name:
        return row
    local, _, suffix = name.rpartition("@")
    info = identity.tenant_info(t)
    if suffix.lower() not in {d.lower() for d in [info["domain"], *info.get("domains", [])]}:
        return None
    return t.store.one("SELECT * FROM ews_accounts WHERE logon = ?", (local,))


def _write_user_file(t: Tenant) -> Path:
    """The NTLM_USER_FILE pyspnego's acceptor reads (smbpasswd lines with the LM and NT hashes,
    never a password): DOMAIN\\logon, the UPN (empty domain) and the bare logon per account."""
    path = t.state_dir / USER_FILE
    dom = domain(t) or ""
    lines = []
    for a in accounts(t):
        for name in (f"{dom}\\{a['logon']}" if dom else None, a["upn"], a["logon"]):
            if name:
                lines.append(f"{name}:0:{a['lm_hash']}:{a['nt_hash']}:[U]:LCT-0")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


# -- writing XML ----------------------------------------------------------------------------------

_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def esc(text: Any) -> str:
    return html.escape(_BAD_XML.sub("", str(text)), quote=False)


def attr(text: Any) -> str:
    return html.escape(_BAD_XML.sub("", str(text)), quote=True)


def el(tag: str, inner: str = "", attrs: dict[str, Any] | None = None) -> str:
    """An element with already-written content: `<tag a="v">inner</tag>` (empty: `<tag/>`)."""
    a = "".join(f' {k}="{attr(v)}"' for k, v in (attrs or {}).items() if v is not None)
    return f"<{tag}{a}>{inner}</{tag}>" if inner else f"<{tag}{a}/>"


def txt(tag: str, value: Any) -> str:
    """A text element; None leaves it out, booleans are xs:boolean."""
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{tag}>{esc(value)}</{tag}>"


def utc(ts: float) -> str:
    """xs:dateTime in UTC, as EWS writes item times: 2026-11-25T09:00:00Z."""
    return graph.iso_z(ts)


def envelope(body: str) -> bytes:
    head = el("h:ServerVersionInfo", attrs={
        "MajorVersion": BUILD[0], "MinorVersion": BUILD[1], "MajorBuildNumber": BUILD[2],
        "MinorBuildNumber": BUILD[3], "Version": SCHEMA_VERSION, "xmlns:h": T_NS, "xmlns": T_NS,
        "xmlns:xsd": XSD_NS, "xmlns:xsi": XSI_NS})
    return ('<?xml version="1.0" encoding="utf-8"?>'
            f'<s:Envelope xmlns:s="{SOAP_NS}"><s:Header>{head}</s:Header>'
            f'<s:Body xmlns:xsi="{XSI_NS}" xmlns:xsd="{XSD_NS}">{body}</s:Body>'
            '</s:Envelope>').encode()


def _headers(req: Request) -> list[tuple[str, str]]:
    rid = req.scratch.setdefault("ews_request_id", str(uuid.uuid4()))
    out = [("Cache-Control", "private"), ("request-id", rid),
           ("X-CalculatedBETarget", "exch01.contoso.local"),
           ("X-EwsPerformanceData", "RpcC=1;RpcL=0;LdapC=0;LdapL=0"), ("X-FEServer", "EXCH01"),
           ("X-BEServer", "EXCH01"), ("X-AspNet-Version", "4.0.30319"), ("X-Powered-By", "ASP.NET")]
    if "ews_www_authenticate" in req.scratch:
        out.append(("WWW-Authenticate", req.scratch["ews_www_authenticate"]))
    return out


def soap(req: Request, body: str, status: int = 200) -> Response:
    return Response(status, envelope(body), _headers(req), "text/xml; charset=utf-8")


def fault(req: Request, code: str, message: str | None = None,
          back_off_ms: int | None = None, extra: str = "", status: int = 500) -> Response:
    """A SOAP fault (HTTP 500) as EWS sends for a request it cannot take at all (schema,
    version, throttling): detail/e:ResponseCode, e:Message, t:MessageXml."""
    message = message or MESSAGES.get(code, code)
    values = extra
    if back_off_ms is not None:
        values += el("t:Value", str(back_off_ms), {"Name": "BackOffMilliseconds"})
    detail = (el("e:ResponseCode", esc(code), {"xmlns:e": E_NS})
              + el("e:Message", esc(message), {"xmlns:e": E_NS})
              + (el("t:MessageXml", values, {"xmlns:t": T_NS}) if values else ""))
    body = (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP_NS}"><s:Body>'
            f'<s:Fault><faultcode xmlns:a="{T_NS}">a:{esc(code)}</faultcode>'
            f'<faultstring xml:lang="en-US">{esc(message)}</faultstring>'
            f"<detail>{detail}</detail></s:Fault></s:Body></s:Envelope>")
    req.notes["error"] = code
    return Response(status, body.encode(), _headers(req), "text/xml; charset=utf-8")


def _iis_page(status: int, title: str, text: str) -> bytes:
    return ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">'
            '<html xmlns="http://www.w3.org/1999/xhtml"><head><meta http-equiv="Content-Type" '
            f'content="text/html; charset=iso-8859-1"/><title>{esc(title)}</title></head><body>'
            f'<div id="header"><h1>Server Error</h1></div><div id="content">'
            f'<div class="content-container"><fieldset><h2>{esc(title)}</h2>'
            f"<h3>{esc(text)}</h3></fieldset></div></div></body></html>").encode()


def _offers(req: Request) -> list[tuple[str, str]]:
    host = (req.headers.get("Host") or "127.0.0.1").split(":")[0]
    return [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM"),
            ("WWW-Authenticate", f'Basic realm="{host}"')]


def unauthorized(req: Request, why: str) -> Response:
    """IIS's 401 (401.1 or 401.2 in its log; the client sees the same page for both): the
    schemes on offer, Negotiate and NTLM first, as IIS lists Windows authentication."""
    req.notes["error"] = why
    return Response(401, _iis_page(401, "401 - Unauthorized: Access is denied due to invalid "
                                   "credentials.", "You do not have permission to view this "
                                   "directory or page using the credentials that you supplied."),
                    [*_offers(req), ("X-Powered-By", "ASP.NET")], "text/html")


class EwsError(Exception):
    """One response message's error: ResponseClass="Error" with this code."""

    def __init__(self, code: str, text: str | None = None, xml: str = ""):
        super().__init__(code)
        self.code, self.text, self.xml = code, text or MESSAGES.get(code, code), xml


class SoapFault(Exception):
    """The whole request fails with a SOAP fault (HTTP 500)."""

    def __init__(self, code: str, text: str | None = None, extra: str = ""):
        super().__init__(code)
        self.code, self.text, self.extra = code, text, extra


def _status(err: EwsError) -> str:
    """MessageText, ResponseCode, DescriptiveLinkKey and MessageXml, in the schema's order."""
    return (txt("m:MessageText", err.text) + txt("m:ResponseCode", err.code)
            + txt("m:DescriptiveLinkKey", 0) + (el("m:MessageXml", err.xml) if err.xml else ""))


def message(tag: str, inner: str = "", error: EwsError | None = None,
            warning: EwsError | None = None) -> str:
    """One response message: its ResponseClass and status, then the operation's own
    elements (none after an error)."""
    if error is not None:
        return el(tag, _status(error), {"ResponseClass": "Error"})
    if warning is not None:
        return el(tag, _status(warning) + inner, {"ResponseClass": "Warning"})
    return el(tag, txt("m:ResponseCode", "NoError") + inner, {"ResponseClass": "Success"})


def response(op: str, messages: str) -> str:
    return el(f"m:{op}Response", el("m:ResponseMessages", messages),
              {"xmlns:m": M_NS, "xmlns:t": T_NS})


def busy_xml(back_off_ms: int) -> str:
    return el("t:Value", str(back_off_ms), {"Name": "BackOffMilliseconds"})


def mailbox_xml(mb_name: str | None, address: str | None, kind: str = "Mailbox",
                tag: str = "t:Mailbox") -> str:
    return el(tag, txt("t:Name", mb_name) + txt("t:EmailAddress", address)
              + (txt("t:RoutingType", "SMTP") if address else "")
              + (txt("t:MailboxType", kind) if address else ""))


# -- reading XML ----------------------------------------------------------------------------------


def q(prefix: str, name: str) -> str:
    return "{" + {"m": M_NS, "t": T_NS, "s": SOAP_NS}[prefix] + "}" + name


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def text_of(e: Element | None, path: str | None = None) -> str | None:
    if e is not None and path is not None:
        e = e.find(path, {"m": M_NS, "t": T_NS})
    if e is None:
        return None
    return (e.text or "").strip()


def find(e: Element | None, path: str) -> Element | None:
    return None if e is None else e.find(path, {"m": M_NS, "t": T_NS})


def attr_of(e: Element | None, path: str, name: str) -> str | None:
    """An attribute of the element at `path` under `e`; None if either is missing. (Elements
    without children are false in a boolean test: never `find(...) or default`.)"""
    found = find(e, path)
    return None if found is None else found.get(name)


def findall(e: Element | None, path: str) -> list[Element]:
    return [] if e is None else e.findall(path, {"m": M_NS, "t": T_NS})


def _bool(v: str | None, default: bool | None = None) -> bool | None:
    if v is None:
        return default
    if v.strip().lower() in ("true", "1"):
        return True
    if v.strip().lower() in ("false", "0"):
        return False
    raise SoapFault("ErrorSchemaValidation", f"The request failed schema validation: The '{v}' "
                    "value is not a valid xs:boolean.")


def _int(v: str | None, what: str, lo: int = 0, hi: int = 2**31 - 1) -> int | None:
    if v is None:
        return None
    try:
        n = int(v.strip())
    except ValueError:
        raise SoapFault("ErrorSchemaValidation", f"The request failed schema validation: The "
                        f"'{what}' value '{v}' is not a valid integer.") from None
    if not lo <= n <= hi:
        raise EwsError("ErrorInvalidRequest", f"The request is invalid. ({what} must be "
                       f"{lo} to {hi}.)")
    return n


def _when(v: str | None, what: str, zone: dt.tzinfo) -> float:
    """An xs:dateTime (with Z or an offset, else in `zone`) as a timestamp."""
    d = graph.parse_iso(v, zone) if v else None
    if d is None:
        raise SoapFault("ErrorSchemaValidation", f"The request failed schema validation: The "
                        f"'{what}' value '{v or ''}' is not a valid xs:dateTime.")
    return d.timestamp()


def parse(req: Request) -> Element:
    """The SOAP envelope (cached on the request); SoapFault ErrorSchemaValidation if it is not
    one. defusedxml refuses entity tricks and DTDs."""
    root = req.scratch.get("ews_root")
    if root is None:
        try:
            root = SafeXml.fromstring(req.body)
        except (SafeXml.ParseError, DefusedXmlException, ValueError) as e:
            raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: "
                            f"{e}") from None
        if root.tag != q("s", "Envelope") or root.find(q("s", "Body")) is None:
            raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: "
                            "the root element is not a SOAP 1.1 Envelope with a Body.")
        req.scratch["ews_root"] = root
    return root


def operation(req: Request) -> str | None:
    """The SOAP operation the request asks for ("FindItem"); faults match on it."""
    body = parse(req).find(q("s", "Body"))
    op = next(iter(body), None)
    if op is None:
        return None
    name = local(op.tag)
    return name[:-len("Request")] if name == "GetUserAvailabilityRequest" else name


# -- ids ------------------------------------------------------------------------------------------

_TO_EWS = str.maketrans("-_", "/+")
_TO_REST = str.maketrans("/+", "-_")
_FOLDER_MAGIC = b"\x00\x01\x2e\x00"


def item_id(mb: Mailbox, inst: Inst) -> str:
    """The EWS id of an instance: graph.py's id in plain Base64 (Graph's ids are the same bytes
    in URL-safe Base64, as Exchange's REST ids are)."""
    return graph.event_id(mb.oid, inst.row["key"], inst.occ).translate(_TO_EWS)


def change_key(inst: Inst) -> str:
    return graph.change_key(inst.row["key"] + (inst.occ or ""), inst.version)


def folder_id(mb: Mailbox, folder: str) -> str:
    oid = mb.oid.lower().encode()
    raw = (_FOLDER_MAGIC + oid + b"\x00\x01" + bytes([FOLDER_NAMES.index(folder)])
           + hashlib.sha256(oid + folder.encode()).digest()[:16] + b"\x00\x00")
    return base64.b64encode(raw).decode()


def parse_folder_id(text: str) -> tuple[str, str] | None:
    """(mailbox oid, folder) of an id made by folder_id; None if it is not one."""
    try:
        raw = base64.b64decode(text, validate=True)
        oid = raw[4:40].decode("ascii")
        folder = FOLDER_NAMES[raw[42]]
    except (ValueError, IndexError, UnicodeDecodeError, binascii.Error):
        return None
    return (oid, folder) if folder_id(Mailbox("", "", oid, ""), folder) == text else None


def folder_change_key(mb: Mailbox, folder: str) -> str:
    return base64.b64encode(hashlib.sha256(f"{mb.oid}:{folder}".encode()).digest()[:12]).decode()


# -- authentication -------------------------------------------------------------------------------

_NTLM_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def _user_file(t: Tenant) -> Iterator[None]:
    """pyspnego's acceptor reads NTLM_USER_FILE from the environment: point it at this tenant's
    file while the acceptor runs (one at a time, so tenants in one process do not mix)."""
    with _NTLM_ENV_LOCK:
        before = os.environ.get("NTLM_USER_FILE")
        os.environ["NTLM_USER_FILE"] = str(t.state_dir / USER_FILE)
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = before


def _logon_result(t: Tenant, account: sqlite3.Row, ok: bool) -> None:
    with t.store.tx() as db:
        db.execute("UPDATE ews_accounts SET failed = failed + ?, last = ? WHERE logon = ?",
                   (0 if ok else 1, t.now(), account["logon"]))


def _basic(req: Request, token: str) -> sqlite3.Row | Response:
    t = req.tenant
    try:
        user, sep, password = base64.b64decode(token, validate=True).decode("utf-8").partition(
            ":")
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return unauthorized(req, "logon failed: malformed Basic credentials")
    account = find_account(t, user) if sep else None
    if account is None:
        return unauthorized(req, "logon failed: unknown user")
    if not hmac.compare_digest(ntowfv1(password).hex().upper(), account["nt_hash"]):
        _logon_result(t, account, False)
        return unauthorized(req, "logon failed: wrong password")
    if account["locked"]:
        return unauthorized(req, "logon failed: account locked")
    _logon_result(t, account, True)
    return account


def _ntlm(req: Request, scheme: str, token: str) -> sqlite3.Row | Response:
    """One leg of the NTLM handshake on this connection: a Negotiate message gets the
    challenge (401 with the token), an Authenticate message the identity (or 401)."""
    t = req.tenant
    conn = req.connection
    try:
        data = base64.b64decode(token, validate=True)
    except (ValueError, binascii.Error):
        return unauthorized(req, "logon failed: malformed NTLM token")
    raw_ntlm = data.startswith(b"NTLMSSP\x00")
    first = (raw_ntlm and data[8:9] == b"\x01") or (not raw_ntlm and data[:1] == b"\x60")
    try:
        with _user_file(t):
            if first or "ews_ntlm" not in conn:
                conn.pop("ews_user", None)
                conn["ews_ntlm"] = spnego.server(protocol="ntlm" if raw_ntlm else "negotiate")
            ctx = conn["ews_ntlm"]
            out = ctx.step(data)
            complete = ctx.complete
            principal = ctx.client_principal if complete else None
    except SpnegoError as e:
        conn.pop("ews_ntlm", None)
        why = "wrong password" if "Invalid NTLM response" in str(e) else \
            "unknown user" if "matching credential" in str(e) else "bad token"
        known = _principal_account(t, _ntlm_user(data)) if why == "wrong password" else None
        if known is not None:
            _logon_result(t, known, False)
        return unauthorized(req, f"logon failed: {why}")
    if not complete:
        resp = unauthorized(req, "ntlm challenge")
        resp.headers = [("WWW-Authenticate", f"{scheme} {base64.b64encode(out).decode()}"),
                        *[h for h in resp.headers if h[0] != "WWW-Authenticate"]]
        return resp
    conn.pop("ews_ntlm", None)
    if out:  # SPNEGO's last token (mechListMIC) rides on the successful answer, as IIS sends it
        req.scratch["ews_www_authenticate"] = f"{scheme} {base64.b64encode(out).decode()}"
    account = _principal_account(t, principal)
    if account is None:
        return unauthorized(req, "logon failed: unknown user")
    if account["locked"]:
        return unauthorized(req, "logon failed: account locked")
    _logon_result(t, account, True)
    conn["ews_user"] = (account["logon"], "NTLM")
    return account


def _ntlm_user(data: bytes) -> str | None:
    """DOMAIN\\user (or the UPN) an NTLM Authenticate message names; None if it is not one."""
    if not data.startswith(b"NTLMSSP\x00") or data[8:9] != b"\x03":
        return None
    try:
        auth = Authenticate.unpack(data)
    except Exception:  # noqa: BLE001 -- a broken message names nobody
        return None
    return f"{auth.domain_name}\\{auth.user_name}" if auth.domain_name else auth.user_name


def _principal_account(t: Tenant, principal: str | None) -> sqlite3.Row | None:
    if not principal:
        return None
    if "\\" in principal:
        dom, _, user = principal.partition("\\")
        if dom and dom.upper() != (domain(t) or "").upper():
            return None
        principal = user
    return t.store.one("SELECT * FROM ews_accounts WHERE logon = ? OR upn = ?",
                       (principal, principal))


def _release(req: Request, resp: Response) -> Response:
    """An injected fault waits for an authenticated request: one met by a 401 (a handshake's
    leg, a wrong password) is handed back to the fault list."""
    f = req.scratch.get("fault")
    if f is not None and not req.scratch.get("fault_released"):
        req.tenant.faults.release(f)
        req.scratch["fault_released"] = True
    return resp


def authenticate(req: Request) -> sqlite3.Row:
    """The account this request acts as: Basic on the request, or NTLM on the connection.
    HttpError 401 (with IIS's offers, or the next NTLM leg) otherwise."""
    t = req.tenant
    header = (req.headers.get("Authorization") or "").strip()
    scheme, _, token = header.partition(" ")
    scheme, token = scheme.lower(), token.strip()
    if scheme == "basic":
        result = _basic(req, token)
        method = "Basic"
    elif scheme in ("ntlm", "negotiate") and token:
        result = _ntlm(req, "NTLM" if scheme == "ntlm" else "Negotiate", token)
        method = "NTLM"
    elif header:
        raise HttpError(_release(req, unauthorized(req, f"logon failed: scheme "
                                                   f"{scheme or '?'} not offered")))
    else:
        held = req.connection.get("ews_user")
        result = t.store.one("SELECT * FROM ews_accounts WHERE logon = ?", (held[0],)) \
            if held else None
        if result is None:
            raise HttpError(_release(req, unauthorized(req, "no credentials")))
        method = held[1]
    if isinstance(result, Response):
        raise HttpError(_release(req, result))
    req.notes["form"] = {"auth": method, "user": f"{domain(t) or ''}\\{result['logon']}"}
    return result


# -- the request context --------------------------------------------------------------------------


@dataclass
class Ctx:
    req: Request
    t: Tenant
    account: sqlite3.Row
    user: sqlite3.Row  # the directory user the account is
    me: Mailbox  # the caller's own mailbox
    zone: Zone | None  # the TimeZoneContext header's zone

    @property
    def tz(self) -> dt.tzinfo:
        return self.zone.tz if self.zone else graph.UTC

    @property
    def now(self) -> float:
        return self.t.now()


def mailbox_by_address(ctx: Ctx, address: str | None) -> Mailbox:
    """A mailbox by SMTP address; EwsError ErrorNonExistentMailbox."""
    address = (address or "").strip()
    if address.lower().startswith("smtp:"):
        address = address[5:]
    mb = graph.find_mailbox(ctx.t, address) if address and "@" in address else None
    if mb is None:
        raise EwsError("ErrorNonExistentMailbox", NO_MAILBOX,
                       el("t:Value", esc(address), {"Name": "SmtpAddress", "xmlns:t": T_NS}))
    return mb


def mailbox_by_oid(ctx: Ctx, oid: str) -> Mailbox | None:
    return graph.find_mailbox(ctx.t, oid)


def right(ctx: Ctx, mb: Mailbox) -> str:
    return graph.rights(ctx.t, ctx.user, mb)


def need(ctx: Ctx, mb: Mailbox, write: bool = False, folder: str = "calendar") -> str:
    """The caller's right on `mb`'s folder, if it allows reading (or writing); else EwsError
    ErrorAccessDenied. Rights are on the calendar (Add-MailboxFolderPermission); a mailbox's
    root folders are visible to whoever has a right on its calendar; other folders are the
    owner's."""
    r = right(ctx, mb)
    if r == "none" or (write and r == "reviewer") or \
            (r != "owner" and folder not in ("calendar", "root", "msgfolderroot")):
        raise EwsError("ErrorAccessDenied", ACCESS_DENIED)
    return r


def folder_target(ctx: Ctx, e: Element) -> tuple[Mailbox, str]:
    """(mailbox, folder) a DistinguishedFolderId or FolderId names."""
    name = local(e.tag)
    if name == "DistinguishedFolderId":
        folder = (e.get("Id") or "").strip()
        address = text_of(e, "t:Mailbox/t:EmailAddress")
        mb = mailbox_by_address(ctx, address) if address is not None else ctx.me
        if folder in OTHER_FOLDERS:
            raise EwsError("ErrorFolderNotFound", FOLDER_NOT_FOUND)
        if folder not in FOLDERS:
            raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: "
                            f"The 'Id' attribute is invalid - The value '{folder}' is invalid "
                            "according to its datatype DistinguishedFolderIdNameType.")
        return mb, folder
    if name == "FolderId":
        parsed = parse_folder_id(e.get("Id") or "")
        if parsed is None:
            raise EwsError("ErrorInvalidIdMalformed")
        mb = mailbox_by_oid(ctx, parsed[0])
        if mb is None:
            raise EwsError("ErrorFolderNotFound", FOLDER_NOT_FOUND)
        return mb, parsed[1]
    raise EwsError("ErrorInvalidRequest", f"The request is invalid. ({name} folder ids are not "
                   "served here.)")


def item_target(ctx: Ctx, raw: str | None) -> tuple[Mailbox, Inst]:
    """(mailbox, instance) an item id names; EwsError ErrorInvalidIdMalformed, ErrorItemNotFound.
    Rights are the caller's to check."""
    text = (raw or "").strip()
    parsed = graph.parse_event_id(text.translate(_TO_REST))
    if parsed is None:
        raise EwsError("ErrorInvalidIdMalformed")
    mb = mailbox_by_oid(ctx, parsed[0])
    if mb is None:
        raise EwsError("ErrorItemNotFound")
    try:
        return mb, graph.lookup_inst(ctx.t, mb, text.translate(_TO_REST))
    except (graph.BadId, LookupError):
        raise EwsError("ErrorItemNotFound") from None


# -- shapes: what an item or folder carries -------------------------------------------------------

ITEM_FIELDS = (  # (FieldURI, in the Default shape, complex: GetItem only)
    ("item:ParentFolderId", False, False), ("item:ItemClass", True, False),
    ("item:Subject", True, False), ("item:Sensitivity", True, False), ("item:Body", False, True),
    ("item:DateTimeReceived", False, False), ("item:Size", False, False),
    ("item:Categories", False, False), ("item:Importance", False, False),
    ("item:DateTimeSent", False, False), ("item:DateTimeCreated", False, False),
    ("item:ReminderIsSet", False, False), ("item:ReminderMinutesBeforeStart", False, False),
    ("item:DisplayCc", False, False), ("item:DisplayTo", False, False),
    ("item:HasAttachments", True, False), ("item:Culture", False, False),
    ("item:EffectiveRights", False, False), ("item:LastModifiedName", False, False),
    ("item:LastModifiedTime", False, False), ("item:IsAssociated", False, False),
    ("calendar:UID", False, False), ("calendar:DateTimeStamp", False, False),
    ("calendar:Start", True, False), ("calendar:End", True, False),
    ("calendar:IsAllDayEvent", False, False), ("calendar:LegacyFreeBusyStatus", True, False),
    ("calendar:Location", True, False), ("calendar:IsMeeting", False, False),
    ("calendar:IsCancelled", False, False), ("calendar:IsRecurring", False, False),
    ("calendar:MeetingRequestWasSent", False, False),
    ("calendar:IsResponseRequested", False, False), ("calendar:CalendarItemType", True, False),
    ("calendar:MyResponseType", False, False), ("calendar:Organizer", True, False),
    ("calendar:RequiredAttendees", False, True), ("calendar:OptionalAttendees", False, True),
    ("calendar:Resources", False, True), ("calendar:Duration", False, False),
    ("calendar:AppointmentState", False, False), ("calendar:StartTimeZone", False, False),
    ("calendar:EndTimeZone", False, False), ("calendar:AllowNewTimeProposal", False, False),
    ("calendar:IsOnlineMeeting", False, False),
)
DEFAULT_ITEM = frozenset(u for u, default, _ in ITEM_FIELDS if default)
ALL_ITEM = frozenset(u for u, _, _ in ITEM_FIELDS)
FOLDER_FIELDS = ("folder:ParentFolderId", "folder:FolderClass", "folder:DisplayName",
                 "folder:TotalCount", "folder:ChildFolderCount", "folder:EffectiveRights",
                 "folder:UnreadCount")
DEFAULT_FOLDER = frozenset({"folder:DisplayName", "folder:TotalCount", "folder:ChildFolderCount",
                            "folder:UnreadCount"})


@dataclass
class Shape:
    fields: frozenset[str]
    body_type: str = "Best"  # Best, HTML, Text


def shape_of(e: Element | None, default: frozenset[str], everything: frozenset[str]) -> Shape:
    base = text_of(e, "t:BaseShape") or "Default"
    if base not in ("IdOnly", "Default", "AllProperties"):
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: The "
                        f"element 'BaseShape' has an invalid value '{base}'.")
    fields = set() if base == "IdOnly" else set(default if base == "Default" else everything)
    for f in findall(e, "t:AdditionalProperties/t:FieldURI"):
        fields.add(f.get("FieldURI") or "")
    return Shape(frozenset(fields), text_of(e, "t:BodyType") or "Best")


def _body_xml(d: dict, body_type: str) -> str:
    content, ctype = d["body"]["content"], d["body"]["contentType"]
    if body_type == "Text" and ctype == "html":
        content, ctype = graph.plain_text(content, "html").strip(), "text"
    elif body_type == "HTML" and ctype == "text":
        content, ctype = f"<html><body>{esc(content)}</body></html>", "html"
    kind = "HTML" if ctype == "html" else "Text"
    return el("t:Body", esc(content), {"BodyType": kind, "IsTruncated": "false"})


def _attendees_xml(tag: str, people: list[dict]) -> str:
    if not people:
        return ""
    rows = []
    for a in people:
        status = a.get("status") or {}
        response = {"accepted": "Accept", "tentativelyAccepted": "Tentative",
                    "declined": "Decline", "organizer": "Organizer"}.get(
            status.get("response", "none"), "Unknown")
        when = status.get("time")
        rows.append(el("t:Attendee", mailbox_xml(a["emailAddress"]["name"],
                                                 a["emailAddress"]["address"])
                       + txt("t:ResponseType", response)
                       + (txt("t:LastResponseTime", when) if when and
                          not when.startswith("0001") else "")))
    return el(tag, "".join(rows))


def calendar_item(ctx: Ctx, mb: Mailbox, inst: Inst, shape: Shape, find_item: bool) -> str:
    """A t:CalendarItem with the shape's properties, in the schema's order. FindItem returns no
    body and no recipient lists, and the organizer's name only, as Microsoft documents."""
    d = inst.data
    f = shape.fields
    out = [el("t:ItemId", attrs={"Id": item_id(mb, inst), "ChangeKey": change_key(inst)})]
    created, modified = inst.row["created"], inst.row["modified"]
    people = list(d["attendees"])
    by_kind = {kind: [a for a in people if a.get("type", "required") == kind]
               for _, kind in ATTENDEE_LISTS}

    def want(uri: str, is_complex: bool = False) -> bool:
        return uri in f and not (find_item and is_complex)

    for uri, _, is_complex in ITEM_FIELDS:
        if not want(uri, is_complex):
            continue
        name = uri.split(":", 1)[1]
        if uri == "item:ParentFolderId":
            out.append(el("t:ParentFolderId", attrs={"Id": folder_id(mb, "calendar"),
                                                     "ChangeKey": folder_change_key(mb,
                                                                                    "calendar")}))
        elif uri == "item:ItemClass":
            out.append(txt("t:ItemClass", "IPM.Appointment"))
        elif uri == "item:Subject":
            out.append(f"<t:Subject>{esc(d['subject'])}</t:Subject>")
        elif uri == "item:Sensitivity":
            out.append(txt("t:Sensitivity", d["sensitivity"].capitalize()))
        elif uri == "item:Body":
            out.append(_body_xml(d, shape.body_type))
        elif uri in ("item:DateTimeReceived", "item:DateTimeSent", "item:DateTimeCreated"):
            out.append(txt(f"t:{name}", utc(created)))
        elif uri == "item:Size":
            out.append(txt("t:Size", 1024 + len(json.dumps(d))))
        elif uri == "item:Categories":
            if d["categories"]:
                out.append(el("t:Categories", "".join(txt("t:String", c)
                                                      for c in d["categories"])))
        elif uri == "item:Importance":
            out.append(txt("t:Importance", d["importance"].capitalize()))
        elif uri == "item:ReminderIsSet":
            out.append(txt("t:ReminderIsSet", d["reminder_on"]))
        elif uri == "item:ReminderMinutesBeforeStart":
            out.append(txt("t:ReminderMinutesBeforeStart", d["reminder"]))
        elif uri == "item:DisplayCc":
            out.append(f"<t:DisplayCc>{esc('; '.join(a['emailAddress']['name'] for a in by_kind['optional']))}</t:DisplayCc>")  # noqa: E501
        elif uri == "item:DisplayTo":
            out.append(f"<t:DisplayTo>{esc('; '.join(a['emailAddress']['name'] for a in by_kind['required']))}</t:DisplayTo>")  # noqa: E501
        elif uri == "item:HasAttachments":
            out.append(txt("t:HasAttachments", False))
        elif uri == "item:Culture":
            out.append(txt("t:Culture", "en-US"))
        elif uri == "item:EffectiveRights":
            out.append(_rights_xml(right(ctx, mb)))
        elif uri == "item:LastModifiedName":
            out.append(txt("t:LastModifiedName", d["organizer"]["name"]))
        elif uri == "item:LastModifiedTime":
            out.append(txt("t:LastModifiedTime", utc(modified)))
        elif uri == "item:IsAssociated":
            out.append(txt("t:IsAssociated", False))
        elif uri == "calendar:UID":
            out.append(txt("t:UID", d["ical"]))
        elif uri == "calendar:DateTimeStamp":
            out.append(txt("t:DateTimeStamp", utc(modified)))
        elif uri == "calendar:Start":
            out.append(txt("t:Start", utc(inst.start)))
        elif uri == "calendar:End":
            out.append(txt("t:End", utc(inst.end)))
        elif uri == "calendar:IsAllDayEvent":
            out.append(txt("t:IsAllDayEvent", d["all_day"]))
        elif uri == "calendar:LegacyFreeBusyStatus":
            out.append(txt("t:LegacyFreeBusyStatus", FREE_BUSY.get(d["show_as"], "Busy")))
        elif uri == "calendar:Location":
            out.append(txt("t:Location", d["location"].get("displayName") or None))
        elif uri == "calendar:IsMeeting":
            out.append(txt("t:IsMeeting", bool(people) or not d["is_organizer"]))
        elif uri == "calendar:IsCancelled":
            out.append(txt("t:IsCancelled", d["cancelled"]))
        elif uri == "calendar:IsRecurring":
            out.append(txt("t:IsRecurring", inst.kind in ("occurrence", "exception")))
        elif uri == "calendar:MeetingRequestWasSent":
            out.append(txt("t:MeetingRequestWasSent", d["is_organizer"] and bool(people)))
        elif uri == "calendar:IsResponseRequested":
            out.append(txt("t:IsResponseRequested", d["response_requested"]))
        elif uri == "calendar:CalendarItemType":
            out.append(txt("t:CalendarItemType", ITEM_TYPES[inst.kind]))
        elif uri == "calendar:MyResponseType":
            out.append(txt("t:MyResponseType", RESPONSES.get(d["response"]["response"],
                                                             "Unknown")))
        elif uri == "calendar:Organizer":
            org = d["organizer"]
            address = None if find_item else org["address"]
            kind = "Mailbox" if graph.find_mailbox(ctx.t, org["address"]) else "OneOff"
            out.append(el("t:Organizer", mailbox_xml(org["name"], address, kind)))
        elif uri in ("calendar:RequiredAttendees", "calendar:OptionalAttendees",
                     "calendar:Resources"):
            kind = dict(ATTENDEE_LISTS)[name]
            out.append(_attendees_xml(f"t:{name}", by_kind[kind]))
        elif uri == "calendar:Duration":
            out.append(txt("t:Duration", _duration(inst.end - inst.start)))
        elif uri == "calendar:AppointmentState":
            state = (1 if people or not d["is_organizer"] else 0) | (2 if not d["is_organizer"]
                                                                     else 0)
            out.append(txt("t:AppointmentState", state | (4 if d["cancelled"] else 0)))
        elif uri in ("calendar:StartTimeZone", "calendar:EndTimeZone"):
            stored = d["tz"] if name == "StartTimeZone" else d.get("end_tz", d["tz"])
            zone = graph.find_zone(stored) or graph.UTC_ZONE
            year = dt.datetime.fromtimestamp(inst.start, graph.UTC).year
            out.append(_zone_definition(zone, year, not find_item, f"t:{name}"))
        elif uri == "calendar:AllowNewTimeProposal":
            out.append(txt("t:AllowNewTimeProposal", d["allow_new_time_proposals"]))
        elif uri == "calendar:IsOnlineMeeting":
            out.append(txt("t:IsOnlineMeeting", d["online"]))
    return el("t:CalendarItem", "".join(out))


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    days, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    out = "P" + (f"{days}D" if days else "")
    tail = (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{s}S" if s else "")
    return out + ("T" + tail if tail else ("" if days else "T0S"))


def _rights_xml(r: str) -> str:
    write = r in ("owner", "editor")
    return el("t:EffectiveRights", txt("t:CreateAssociated", write)
              + txt("t:CreateContents", write) + txt("t:CreateHierarchy", r == "owner")
              + txt("t:Delete", write) + txt("t:Modify", write) + txt("t:Read", r != "none")
              + txt("t:ViewPrivateItems", r in ("owner", "editor", "reviewer")))


def folder_xml(ctx: Ctx, mb: Mailbox, folder: str, shape: Shape) -> str:
    tag, folder_class, display = FOLDERS[folder]
    f = shape.fields
    parent = None if folder == "root" else ("root" if folder == "msgfolderroot"
                                            else "msgfolderroot")
    out = [el("t:FolderId", attrs={"Id": folder_id(mb, folder),
                                   "ChangeKey": folder_change_key(mb, folder)})]
    if "folder:ParentFolderId" in f and parent:
        out.append(el("t:ParentFolderId", attrs={"Id": folder_id(mb, parent),
                                                 "ChangeKey": folder_change_key(mb, parent)}))
    if "folder:FolderClass" in f and folder_class:
        out.append(txt("t:FolderClass", folder_class))
    if "folder:DisplayName" in f:
        out.append(txt("t:DisplayName", display))
    if "folder:TotalCount" in f:
        n = 0
        if folder == "calendar":
            n = ctx.t.store.one("SELECT COUNT(*) AS n FROM graph_events WHERE mailbox = ?",
                                (mb.address,))["n"]
        out.append(txt("t:TotalCount", n))
    if "folder:ChildFolderCount" in f:
        children = {"root": 1, "msgfolderroot": len(FOLDERS) - 2}.get(folder, 0)
        out.append(txt("t:ChildFolderCount", children))
    if "folder:EffectiveRights" in f:
        out.append(_rights_xml(right(ctx, mb)))
    if "folder:UnreadCount" in f and tag == "t:Folder":
        out.append(txt("t:UnreadCount", 0))
    return el(tag, "".join(out))


# -- operations: folders and items ----------------------------------------------------------------


def op_get_folder(ctx: Ctx, op: Element) -> str:
    shape = shape_of(find(op, "m:FolderShape"), DEFAULT_FOLDER, frozenset(FOLDER_FIELDS))
    out = []
    for fe in list(find(op, "m:FolderIds") if find(op, "m:FolderIds") is not None else []):
        try:
            mb, folder = folder_target(ctx, fe)
            need(ctx, mb, folder=folder)
            out.append(message("m:GetFolderResponseMessage",
                               el("m:Folders", folder_xml(ctx, mb, folder, shape))))
        except EwsError as e:
            out.append(message("m:GetFolderResponseMessage", error=e))
    return response("GetFolder", "".join(out))


def _calendar_window(view: Element, ctx: Ctx) -> tuple[float, float, int | None]:
    ws = _when(view.get("StartDate"), "StartDate", ctx.tz)
    we = _when(view.get("EndDate"), "EndDate", ctx.tz)
    limit = _int(view.get("MaxEntriesReturned"), "MaxEntriesReturned", 1)
    if we < ws:
        raise EwsError("ErrorCalendarEndDateIsEarlierThanStartDate",
                       MESSAGES["ErrorCalendarEndDateIsEarlierThanStartDate"])
    return ws, we, limit


def op_find_item(ctx: Ctx, op: Element) -> str:
    traversal = op.get("Traversal")
    if traversal not in ("Shallow", "Deep", "SoftDeleted", "Associated"):
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: The "
                        "required attribute 'Traversal' is missing or invalid.")
    shape = shape_of(find(op, "m:ItemShape"), DEFAULT_ITEM, ALL_ITEM)
    view = find(op, "m:CalendarView")
    paged = find(op, "m:IndexedPageItemView")
    parents = find(op, "m:ParentFolderIds")
    if parents is None or not len(parents):
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: The "
                        "element 'FindItem' has incomplete content: 'ParentFolderIds' expected.")
    out = []
    for fe in list(parents):
        try:
            mb, folder = folder_target(ctx, fe)
            need(ctx, mb, folder=folder)
            if view is not None:
                ws, we, limit = _calendar_window(view, ctx)
                if folder != "calendar":
                    raise EwsError("ErrorCalendarFolderIsInvalidForCalendarView",
                                   "The folder is not a calendar folder. (A CalendarView needs "
                                   "the calendar.)")
                found = [] if traversal != "Shallow" else graph.instances(ctx.t, mb.address, ws,
                                                                          we)
                shown = found[:limit] if limit else found
                attrs = {"TotalItemsInView": len(found),
                         "IncludesLastItemInRange": len(shown) == len(found)}
            else:
                found = []
                if folder == "calendar" and traversal == "Shallow":
                    rows = ctx.t.store.all("SELECT * FROM graph_events WHERE mailbox = ? "
                                           "ORDER BY start, created", (mb.address,))
                    found = [graph.master_inst(r) for r in rows]
                offset = (_int(paged.get("Offset"), "Offset") or 0) if paged is not None \
                    else 0
                limit = _int(paged.get("MaxEntriesReturned"), "MaxEntriesReturned", 1) \
                    if paged is not None else None
                if paged is not None and paged.get("BasePoint") == "End":
                    found = found[::-1]
                shown = found[offset:offset + limit] if limit else found[offset:]
                attrs = {"IndexedPagingOffset": offset + len(shown),
                         "TotalItemsInView": len(found),
                         "IncludesLastItemInRange": offset + len(shown) >= len(found)}
            items = "".join(calendar_item(ctx, mb, i, shape, True) for i in shown)
            attrs = {k: ("true" if v is True else "false" if v is False else v)
                     for k, v in attrs.items()}
            out.append(message("m:FindItemResponseMessage",
                               el("m:RootFolder", el("t:Items", items), attrs)))
        except EwsError as e:
            out.append(message("m:FindItemResponseMessage", error=e))
    return response("FindItem", "".join(out))


def op_get_item(ctx: Ctx, op: Element) -> str:
    shape = shape_of(find(op, "m:ItemShape"), DEFAULT_ITEM, ALL_ITEM)
    out = []
    ids = find(op, "m:ItemIds")
    for ie in list(ids if ids is not None else []):
        try:
            if local(ie.tag) != "ItemId":
                raise EwsError("ErrorInvalidRequest", f"The request is invalid. ({local(ie.tag)} "
                               "is not served here: use the occurrence's own ItemId.)")
            mb, inst = item_target(ctx, ie.get("Id"))
            need(ctx, mb)
            out.append(message("m:GetItemResponseMessage",
                               el("m:Items", calendar_item(ctx, mb, inst, shape, False))))
        except EwsError as e:
            out.append(message("m:GetItemResponseMessage", error=e))
    return response("GetItem", "".join(out))


def _ewszone(name: str | None) -> Zone | None:
    return graph.find_zone(name) if name else None


def _people(ctx: Ctx, e: Element, kind: str) -> list[dict]:
    out = []
    for a in findall(e, "t:Attendee"):
        address = text_of(a, "t:Mailbox/t:EmailAddress")
        if not address or "@" not in address:
            raise EwsError("ErrorInvalidRecipients", graph.NO_RECIPIENTS.split(",")[0] + ".")
        known = graph.find_mailbox(ctx.t, address)
        name = text_of(a, "t:Mailbox/t:Name") or (known.name if known else address)
        out.append(graph.attendee_json(name, known.address if known else address, kind))
    return out


def calendar_changes(ctx: Ctx, e: Element, creating: bool) -> dict[str, Any]:
    """A t:CalendarItem's properties as graph.py's parsed changes (parse_event's keys)."""
    ch: dict[str, Any] = {}
    zone = _ewszone(attr_of(e, "t:StartTimeZone", "Id") or attr_of(e, "t:MeetingTimeZone", "Id")
                    or attr_of(e, "t:MeetingTimeZone", "TimeZoneName")) \
        or ctx.zone or graph.UTC_ZONE
    end_zone = _ewszone(attr_of(e, "t:EndTimeZone", "Id")) or zone
    for child in e:
        name = local(child.tag)
        value = (child.text or "").strip()
        if name == "Subject":
            ch["subject"] = child.text or ""
        elif name == "Body":
            kind = (child.get("BodyType") or "Text").lower()
            ch["body"] = {"contentType": "html" if kind == "html" else "text",
                          "content": child.text or ""}
        elif name == "Sensitivity":
            if value.lower() not in graph.SENSITIVITY:
                raise _enum_fault("Sensitivity", value)
            ch["sensitivity"] = value.lower()
        elif name == "Importance":
            if value.lower() not in graph.IMPORTANCE:
                raise _enum_fault("Importance", value)
            ch["importance"] = value.lower()
        elif name == "Categories":
            ch["categories"] = [(s.text or "") for s in findall(child, "t:String")]
        elif name == "ReminderIsSet":
            ch["isReminderOn"] = _bool(value)
        elif name == "ReminderMinutesBeforeStart":
            ch["reminderMinutesBeforeStart"] = _int(value, name, 0, 525600)
        elif name == "Start":
            ch["start"] = (_when(value, name, zone.tz), zone)
        elif name == "End":
            ch["end"] = (_when(value, name, end_zone.tz), end_zone)
        elif name == "IsAllDayEvent":
            ch["isAllDay"] = _bool(value)
        elif name == "LegacyFreeBusyStatus":
            if value.lower() not in SHOW_AS:
                raise _enum_fault("LegacyFreeBusyStatus", value)
            ch["showAs"] = SHOW_AS[value.lower()]
        elif name == "Location":
            ch["location"] = graph.location_json(child.text or None)
        elif name in ("RequiredAttendees", "OptionalAttendees", "Resources"):
            kind = dict(ATTENDEE_LISTS)[name]
            ch["attendees"] = [a for a in ch.get("attendees", [])
                               if a["type"] != kind] + _people(ctx, child, kind)
        elif name == "IsResponseRequested":
            ch["responseRequested"] = _bool(value)
        elif name == "AllowNewTimeProposal":
            ch["allowNewTimeProposals"] = _bool(value)
        elif name == "Recurrence":
            raise EwsError("ErrorUnsupportedRecurrence", "The recurrence pattern is not "
                           "supported. (This tenant's EWS writes single items; the Graph side "
                           "creates series.)")
    if creating and ("start" not in ch or "end" not in ch):
        raise EwsError("ErrorInvalidRequest", "The request is invalid. (A calendar item needs "
                       "Start and End.)")
    return ch


def _enum_fault(name: str, value: str) -> SoapFault:
    return SoapFault("ErrorSchemaValidation", "The request failed schema validation: The "
                     f"'{name}' element is invalid - The value '{value}' is invalid according "
                     "to its datatype.")


def _check_times(ch: dict[str, Any], start: float, end: float, all_day: bool, zone: Zone,
                 end_zone: Zone) -> None:
    if end < start:
        raise EwsError("ErrorCalendarEndDateIsEarlierThanStartDate")
    try:
        graph.check_times(start, end, all_day, zone, end_zone)
    except graph.EventError as e:
        raise EwsError("ErrorInvalidRequest", f"The request is invalid. ({e.message})") from None


def create_calendar_item(ctx: Ctx, e: Element, mb: Mailbox, folder: str) -> str:
    """CreateItem of a t:CalendarItem: written straight into the calendar, as graph.py's POST
    .../events; in a room's calendar the room is its organizer and nothing is processed."""
    if folder != "calendar":
        raise EwsError("ErrorInvalidRequest", "The request is invalid. (Calendar items go to "
                       "the calendar folder.)")
    need(ctx, mb, write=True)
    ch = calendar_changes(ctx, e, creating=True)
    (start, zone), (end, end_zone) = ch["start"], ch["end"]
    all_day = ch.get("isAllDay", False)
    _check_times(ch, start, end, all_day, zone, end_zone)
    now = ctx.now
    key = uuid.uuid4().hex
    body = ch.get("body", {"contentType": "html", "content": ""})
    data = graph.new_event(
        mb, subject=ch.get("subject", ""), body=body["content"], body_type=body["contentType"],
        zone=zone, end_zone=end_zone, all_day=all_day, organizer=(mb.name, mb.address),
        attendees=ch.get("attendees"), location=ch.get("location"),
        sensitivity=ch.get("sensitivity", "normal"), show_as=ch.get("showAs", "busy"),
        importance=ch.get("importance", "normal"), categories=ch.get("categories"),
        invite=False, now=now, key=key)
    graph.apply_changes(data, {k: v for k, v in ch.items() if k not in ("subject", "body")})
    with ctx.t.store.tx() as db:
        graph.insert_event(db, mb.address, key, data, start, end, now)
    inst = graph.master_inst(ctx.t.store.one("SELECT * FROM graph_events WHERE key = ?", (key,)))
    return el("t:CalendarItem", el("t:ItemId", attrs={"Id": item_id(mb, inst),
                                                      "ChangeKey": change_key(inst)}))


def _recipients(ctx: Ctx, e: Element | None) -> list[dict]:
    out = []
    for m in findall(e, "t:Mailbox"):
        address = text_of(m, "t:EmailAddress")
        if not address or not _SMTP.fullmatch(address):
            raise EwsError("ErrorInvalidRecipients", "At least one recipient isn't valid., "
                           f"Recipient '{address or ''}' isn't resolved. All recipients must be "
                           "resolved before a message can be submitted.")
        known = graph.find_mailbox(ctx.t, address)
        out.append({"name": text_of(m, "t:Name") or (known.name if known else address),
                    "address": address})
    return out


def send_message(ctx: Ctx, e: Element, disposition: str, saved: tuple[Mailbox, str] | None
                 ) -> str:
    """CreateItem of a t:Message with SendOnly or SendAndSaveCopy: into the outbox graph.py's
    sendMail fills (GET /_admin/outbox). From another mailbox takes its SendAs right."""
    if disposition not in ("SendOnly", "SendAndSaveCopy"):
        raise EwsError("ErrorInvalidOperation", "The operation is not valid. (This tenant keeps "
                       "no drafts: send with MessageDisposition SendOnly or SendAndSaveCopy.)")
    to = _recipients(ctx, find(e, "t:ToRecipients"))
    cc = _recipients(ctx, find(e, "t:CcRecipients"))
    bcc = _recipients(ctx, find(e, "t:BccRecipients"))
    if not (to or cc or bcc):
        raise EwsError("ErrorInvalidRecipients", graph.NO_RECIPIENTS)
    acting = ctx.me
    sender = text_of(e, "t:From/t:Mailbox/t:EmailAddress")
    if sender:
        acting = mailbox_by_address(ctx, sender)
    elif saved is not None and saved[0].oid != ctx.me.oid:
        acting = saved[0]
    if acting.oid != ctx.me.oid and not (ctx.user["service_account"] and acting.room is not None
                                         and acting.room.get("send_as")):
        raise EwsError("ErrorSendAsDenied", graph.SEND_AS_DENIED)
    body = find(e, "t:Body")
    kind = ((body.get("BodyType") if body is not None else None) or "Text").lower()
    importance = (text_of(e, "t:Importance") or "Normal").lower()
    with ctx.t.store.tx() as db:
        graph.outbox_add(db, ctx.now, kind="mail", **{"from": graph.mail_address(acting)},
                         sender=graph.mail_address(ctx.me), to=to, cc=cc, bcc=bcc,
                         subject=text_of(e, "t:Subject") or "",
                         body=(body.text or "") if body is not None else "",
                         content_type="html" if kind == "html" else "text",
                         save_to_sent_items=disposition == "SendAndSaveCopy",
                         importance=importance if importance in graph.IMPORTANCE else "normal")
    return ""


def respond_item(ctx: Ctx, e: Element, disposition: str | None) -> str:
    """Accept/TentativelyAccept/DeclineItem and CancelCalendarItem on a meeting in a calendar
    the caller can write (the room's, as its delegate): graph.py's respond_to."""
    action = {"AcceptItem": "accept", "TentativelyAcceptItem": "tentativelyAccept",
              "DeclineItem": "decline", "CancelCalendarItem": "cancel"}[local(e.tag)]
    ref = find(e, "t:ReferenceItemId")
    if ref is None:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: The "
                        f"element '{local(e.tag)}' has incomplete content: 'ReferenceItemId' "
                        "expected.")
    mb, inst = item_target(ctx, ref.get("Id"))
    need(ctx, mb, write=True)
    d = inst.data
    if action == "cancel" and not d["is_organizer"]:
        raise EwsError("ErrorCalendarIsNotOrganizer", "Only the organizer can cancel a meeting. "
                       "(The calendar item is not the organizer's.)")
    if action != "cancel" and d["is_organizer"]:
        code = {"accept": "ErrorCalendarIsOrganizerForAccept",
                "tentativelyAccept": "ErrorCalendarIsOrganizerForTentative",
                "decline": "ErrorCalendarIsOrganizerForDecline"}[action]
        raise EwsError(code, "The organizer can't respond to their own meeting. (The calendar "
                       "item is the organizer's.)")
    body = find(e, "t:Body")
    if body is None:
        body = find(e, "t:NewBodyContent")
    comment = (body.text or "") if body is not None else ""
    send = disposition != "SaveOnly"
    graph.respond_to(ctx.t, inst, mb, ctx.me, action, comment, send, ctx.now)
    return ""


def op_create_item(ctx: Ctx, op: Element) -> str:
    disposition = op.get("MessageDisposition")
    saved_el = find(op, "m:SavedItemFolderId")
    items = find(op, "m:Items")
    out = []
    for item in list(items if items is not None else []):
        try:
            saved = folder_target(ctx, next(iter(saved_el))) \
                if saved_el is not None and len(saved_el) else None
            kind = local(item.tag)
            if kind == "CalendarItem":
                mb, folder = saved if saved else (ctx.me, "calendar")
                inner = create_calendar_item(ctx, item, mb, folder)
            elif kind == "Message":
                inner = send_message(ctx, item, disposition or "", saved)
            elif kind in ("AcceptItem", "TentativelyAcceptItem", "DeclineItem",
                          "CancelCalendarItem"):
                if disposition not in ("SaveOnly", "SendOnly", "SendAndSaveCopy"):
                    raise EwsError("ErrorInvalidRequest", "The request is invalid. (A meeting "
                                   "response needs MessageDisposition.)")
                inner = respond_item(ctx, item, disposition)
            else:
                raise EwsError("ErrorInvalidRequest", f"The request is invalid. (This tenant "
                               f"does not create a {kind}.)")
            out.append(message("m:CreateItemResponseMessage", el("m:Items", inner)))
        except EwsError as e:
            out.append(message("m:CreateItemResponseMessage", error=e))
    return response("CreateItem", "".join(out))


FIELD_ELEMENTS = {  # SetItemField FieldURI -> the t:CalendarItem child that carries the value
    "item:Subject": "Subject", "item:Body": "Body", "item:Sensitivity": "Sensitivity",
    "item:Importance": "Importance", "item:Categories": "Categories",
    "item:ReminderIsSet": "ReminderIsSet",
    "item:ReminderMinutesBeforeStart": "ReminderMinutesBeforeStart",
    "calendar:Start": "Start", "calendar:End": "End", "calendar:IsAllDayEvent": "IsAllDayEvent",
    "calendar:LegacyFreeBusyStatus": "LegacyFreeBusyStatus", "calendar:Location": "Location",
    "calendar:RequiredAttendees": "RequiredAttendees",
    "calendar:OptionalAttendees": "OptionalAttendees", "calendar:Resources": "Resources",
    "calendar:IsResponseRequested": "IsResponseRequested",
    "calendar:AllowNewTimeProposal": "AllowNewTimeProposal",
    "calendar:StartTimeZone": "StartTimeZone", "calendar:EndTimeZone": "EndTimeZone",
    "calendar:MeetingTimeZone": "MeetingTimeZone",
}


DELETABLE = frozenset({"item:Subject", "item:Body", "item:Categories", "calendar:Location",
                       "calendar:RequiredAttendees", "calendar:OptionalAttendees",
                       "calendar:Resources"})


def op_update_item(ctx: Ctx, op: Element) -> str:
    """UpdateItem of calendar items (SetItemField; extend, end early): graph.py's
    update_instance. ConflictResolution NeverOverwrite refuses a stale ChangeKey."""
    resolution = op.get("ConflictResolution") or "AutoResolve"
    changes = find(op, "m:ItemChanges")
    out = []
    for change in list(changes if changes is not None else []):
        try:
            ref = find(change, "t:ItemId")
            if ref is None:
                raise EwsError("ErrorInvalidRequest", "The request is invalid. (Give the "
                               "t:ItemId of the item or occurrence.)")
            mb, inst = item_target(ctx, ref.get("Id"))
            need(ctx, mb, write=True)
            if resolution == "NeverOverwrite" and ref.get("ChangeKey") and \
                    ref.get("ChangeKey") != change_key(inst):
                raise EwsError("ErrorIrresolvableConflict", "The send or update operation could "
                               "not be performed because the change key passed in the request "
                               "does not match the current change key for the item.")
            values = Element(q("t", "CalendarItem"))
            for upd in findall(change, "t:Updates/*"):
                kind = local(upd.tag)
                uri = attr_of(upd, "t:FieldURI", "FieldURI")
                if uri not in FIELD_ELEMENTS or kind not in ("SetItemField", "DeleteItemField"):
                    raise EwsError("ErrorInvalidPropertySet", f"This property can't be set. "
                                   f"({kind} of {uri or 'that property'} is not served here.)")
                if kind == "DeleteItemField":
                    if uri.endswith("TimeZone"):
                        continue  # the item keeps its zone
                    if uri not in DELETABLE:
                        raise EwsError("ErrorInvalidPropertyDelete", "This property can't be "
                                       f"deleted. ({uri})")
                    values.append(Element(q("t", FIELD_ELEMENTS[uri])))
                    continue
                carried = find(find(upd, "t:CalendarItem"), "t:" + FIELD_ELEMENTS[uri])
                if carried is None:
                    raise EwsError("ErrorInvalidPropertySet", "This property can't be set. (The "
                                   f"SetItemField of {uri} carries no t:CalendarItem value.)")
                values.append(carried)
            ch = calendar_changes(ctx, values, creating=False)
            named = any(find(values, f"t:{z}") is not None for z in (
                "StartTimeZone", "EndTimeZone", "MeetingTimeZone")) or ctx.zone is not None
            for key, stored in (("start", "tz"), ("end", "end_tz")):
                if key in ch and not named:
                    # A time without a zone named leaves the item's own zone as it was.
                    keep = graph.find_zone(inst.data.get(stored, inst.data["tz"]))
                    ch[key] = (ch[key][0], keep or graph.UTC_ZONE)
            start = ch["start"][0] if "start" in ch else inst.start
            end = ch["end"][0] if "end" in ch else inst.end
            if end < start:
                raise EwsError("ErrorCalendarEndDateIsEarlierThanStartDate")
            try:
                fresh = graph.update_instance(ctx.t, inst, ch, ctx.now)
            except graph.EventError as e:
                raise EwsError("ErrorInvalidRequest", f"The request is invalid. ({e.message})"
                               ) from None
            item = el("t:CalendarItem", el("t:ItemId", attrs={"Id": item_id(mb, fresh),
                                                              "ChangeKey": change_key(fresh)}))
            out.append(message("m:UpdateItemResponseMessage",
                               el("m:Items", item) + el("m:ConflictResults",
                                                        txt("t:Count", 0))))
        except EwsError as e:
            out.append(message("m:UpdateItemResponseMessage", error=e))
    return response("UpdateItem", "".join(out))


def op_delete_item(ctx: Ctx, op: Element) -> str:
    """DeleteItem: the item (or occurrence) leaves the calendar; an organizer's meeting with
    attendees sends them a cancellation unless SendMeetingCancellations is SendToNone."""
    notify = (op.get("SendMeetingCancellations") or "SendToAllAndSaveCopy") != "SendToNone"
    out = []
    ids = find(op, "m:ItemIds")
    for ie in list(ids if ids is not None else []):
        try:
            mb, inst = item_target(ctx, ie.get("Id"))
            need(ctx, mb, write=True)
            graph.delete_instance(ctx.t, inst, mb, ctx.me, ctx.now, notify=notify)
            out.append(message("m:DeleteItemResponseMessage"))
        except EwsError as e:
            out.append(message("m:DeleteItemResponseMessage", error=e))
    return response("DeleteItem", "".join(out))


# -- rooms, names, time zones ---------------------------------------------------------------------


def op_get_room_lists(ctx: Ctx, op: Element) -> str:
    lists = "".join(mailbox_xml(rl["name"], rl["address"], "PublicDL", "t:Address")
                    for rl in graph.room_lists(ctx.t))
    return el("m:GetRoomListsResponse", txt("m:ResponseCode", "NoError")
              + el("m:RoomLists", lists), {"ResponseClass": "Success", "xmlns:m": M_NS,
                                           "xmlns:t": T_NS})


def op_get_rooms(ctx: Ctx, op: Element) -> str:
    address = (text_of(op, "m:RoomList/t:EmailAddress") or "").lower()
    rl = next((r for r in graph.room_lists(ctx.t) if r["address"].lower() == address), None)
    if rl is None:
        raise EwsError("ErrorNameResolutionNoResults")
    by_address = {r["address"].lower(): r for r in graph.rooms(ctx.t)}
    rooms = "".join(el("t:Room", mailbox_xml(by_address[a.lower()]["name"],
                                             by_address[a.lower()]["address"], tag="t:Id"))
                    for a in rl["rooms"] if a.lower() in by_address)
    return el("m:GetRoomsResponse", txt("m:ResponseCode", "NoError") + el("m:Rooms", rooms),
              {"ResponseClass": "Success", "xmlns:m": M_NS, "xmlns:t": T_NS})


def _directory(ctx: Ctx) -> list[tuple[Mailbox | None, dict]]:
    """Everyone ResolveNames can find: users, rooms, room lists (mailbox or None, facts)."""
    out: list[tuple[Mailbox | None, dict]] = []
    for u in ctx.t.store.all("SELECT * FROM users ORDER BY name"):
        out.append((graph.user_mailbox(ctx.t, u), {"given": u["given_name"],
                                                   "surname": u["surname"],
                                                   "title": u["job_title"], "upn": u["upn"]}))
    for r in graph.rooms(ctx.t):
        out.append((graph.find_mailbox(ctx.t, r["address"]), {"upn": r["address"]}))
    for rl in graph.room_lists(ctx.t):
        out.append((None, {"name": rl["name"], "address": rl["address"], "upn": rl["address"]}))
    return out


def op_resolve_names(ctx: Ctx, op: Element) -> str:
    """ResolveNames against the directory: an address (or SMTP:address), or the start of a
    name, alias or address."""
    wanted = (text_of(op, "m:UnresolvedEntry") or "").strip()
    full = _bool(op.get("ReturnFullContactData"), False)
    needle = wanted[5:] if wanted.lower().startswith("smtp:") else wanted
    low = needle.lower()
    hits = []
    for mb, facts in _directory(ctx):
        name = mb.name if mb else facts["name"]
        address = mb.address if mb else facts["address"]
        words = [name.lower(), *name.lower().split(), address.lower(), facts["upn"].lower(),
                 address.split("@")[0].lower()]
        exact = low in (address.lower(), facts["upn"].lower())
        if low and (exact or any(w.startswith(low) for w in words)):
            hits.append((exact, mb, facts, name, address))
    if any(h[0] for h in hits):
        hits = [h for h in hits if h[0]]
    if not hits:
        err = EwsError("ErrorNameResolutionNoResults")
        return response("ResolveNames", message("m:ResolveNamesResponseMessage", error=err))
    rows = []
    for _, mb, facts, name, address in hits[:100]:
        kind = "Mailbox" if mb else "PublicDL"
        contact = ""
        if full:
            contact = el("t:Contact", txt("t:DisplayName", name) + txt("t:GivenName",
                                                                       facts.get("given"))
                         + el("t:EmailAddresses", el("t:Entry", esc("SMTP:" + address),
                                                     {"Key": "EmailAddress1"}))
                         + txt("t:ContactSource", "ActiveDirectory")
                         + txt("t:JobTitle", facts.get("title"))
                         + txt("t:Surname", facts.get("surname")))
        rows.append(el("t:Resolution", mailbox_xml(name, address, kind) + contact))
    inner = el("m:ResolutionSet", "".join(rows), {"TotalItemsInView": len(rows),
                                                   "IncludesLastItemInRange": "true"})
    if len(hits) > 1:
        warn = EwsError("ErrorNameResolutionMultipleResults", "Multiple results were found.")
        return response("ResolveNames", message("m:ResolveNamesResponseMessage", inner,
                                                warning=warn))
    return response("ResolveNames", message("m:ResolveNamesResponseMessage", inner))


@dataclass(frozen=True)
class Rule:
    """A yearly time change as EWS writes it: the month, the n-th (5: last) weekday, and the
    local time of the change (in the time before it)."""
    month: int
    order: int
    weekday: int  # 0 Monday
    time: dt.time


@dataclass(frozen=True)
class Legacy:
    """A time zone as EWS's legacy TimeZone (availability) carries it: minutes west of UTC,
    then the daylight rules (None: no daylight time)."""
    bias: int
    std_bias: int = 0
    dst_bias: int = 0
    std: Rule | None = None  # the change back to standard time
    dst: Rule | None = None  # the change to daylight time

    def offset(self, local_dt: dt.datetime) -> int:
        """Minutes to add to a local (naive) time to get UTC."""
        if self.std is None or self.dst is None:
            return self.bias + self.std_bias
        y = local_dt.year
        to_dst, to_std = _rule_date(self.dst, y), _rule_date(self.std, y)
        if to_dst < to_std:
            daylight = to_dst <= local_dt < to_std
        else:
            daylight = not (to_std <= local_dt < to_dst)
        return self.bias + (self.dst_bias if daylight else self.std_bias)

    def to_utc(self, local_dt: dt.datetime) -> float:
        return (local_dt + dt.timedelta(minutes=self.offset(local_dt))).replace(
            tzinfo=graph.UTC).timestamp()

    def to_local(self, ts: float) -> dt.datetime:
        naive = dt.datetime.fromtimestamp(ts, graph.UTC).replace(tzinfo=None)
        guess = naive - dt.timedelta(minutes=self.bias + self.std_bias)
        return naive - dt.timedelta(minutes=self.offset(guess))


def _rule_date(rule: Rule, year: int) -> dt.datetime:
    first = dt.date(year, rule.month, 1)
    day = first + dt.timedelta(days=(rule.weekday - first.weekday()) % 7 + 7 * (rule.order - 1))
    while day.month != rule.month:  # order 5: the last one
        day -= dt.timedelta(days=7)
    return dt.datetime.combine(day, rule.time)


@functools.lru_cache(maxsize=64)
def legacy_zone(key: str, year: int) -> Legacy:
    """The legacy form of an IANA zone's rules in `year` (from its transitions that year)."""
    tz = graph.find_zone(key).tz if graph.find_zone(key) else graph.UTC
    start = dt.datetime(year, 1, 1, tzinfo=graph.UTC)
    offsets = []
    changes = []
    prev = None
    for h in range(0, 366 * 24, 1):
        when = start + dt.timedelta(hours=h)
        off = int(when.astimezone(tz).utcoffset().total_seconds() // 60)
        offsets.append(off)
        if prev is not None and off != prev:
            changes.append((when, prev, off))
        prev = off
    std = min(offsets)
    if len(changes) < 2:
        return Legacy(-std)
    dst = max(offsets)

    def rule(when: dt.datetime, before: int) -> Rule:
        wall = (when + dt.timedelta(minutes=before)).replace(tzinfo=None)
        order = (wall.day - 1) // 7 + 1
        if (wall + dt.timedelta(days=7)).month != wall.month:
            order = 5
        return Rule(wall.month, order, wall.weekday(), wall.time())

    to_dst = next(rule(w, b) for w, b, a in changes if a == dst)
    to_std = next(rule(w, b) for w, b, a in changes if a == std)
    return Legacy(-std, 0, -(dst - std), to_std, to_dst)


def _rule_xml(tag: str, bias: int, rule: Rule | None) -> str:
    if rule is None:
        rule = Rule(0, 0, 6, dt.time(0))
    return el(tag, txt("t:Bias", bias) + txt("t:Time", rule.time.strftime("%H:%M:%S"))
              + txt("t:DayOrder", rule.order) + txt("t:Month", rule.month)
              + txt("t:DayOfWeek", WEEKDAYS[rule.weekday]))


def legacy_xml(z: Legacy, tag: str = "t:TimeZone") -> str:
    return el(tag, txt("t:Bias", z.bias) + _rule_xml("t:StandardTime", z.std_bias, z.std)
              + _rule_xml("t:DaylightTime", z.dst_bias, z.dst))


def parse_legacy(e: Element | None) -> Legacy:
    """A request's t:TimeZone (GetUserAvailability); UTC if there is none."""
    if e is None:
        return Legacy(0)

    def rule(part: Element | None) -> tuple[int, Rule | None]:
        if part is None:
            return 0, None
        bias = _int(text_of(part, "t:Bias"), "Bias", -1440, 1440) or 0
        month = _int(text_of(part, "t:Month"), "Month", 0, 12) or 0
        order = _int(text_of(part, "t:DayOrder"), "DayOrder", 0, 5) or 1
        day = text_of(part, "t:DayOfWeek") or "Sunday"
        if day not in WEEKDAYS:
            raise _enum_fault("DayOfWeek", day)
        try:
            at = dt.time.fromisoformat(text_of(part, "t:Time") or "00:00:00")
        except ValueError:
            raise _enum_fault("Time", text_of(part, "t:Time") or "") from None
        return bias, (Rule(month, order, WEEKDAYS.index(day), at) if month else None)

    bias = _int(text_of(e, "t:Bias"), "Bias", -1440, 1440) or 0
    std_bias, std = rule(find(e, "t:StandardTime"))
    dst_bias, dst = rule(find(e, "t:DaylightTime"))
    if std is None or dst is None:
        return Legacy(bias, std_bias, std_bias)
    return Legacy(bias, std_bias, dst_bias, std, dst)


def op_get_server_time_zones(ctx: Ctx, op: Element) -> str:
    """The zones asked for (Windows ids this tenant knows), or all of them: Periods and one
    TransitionsGroup of the current year's rules (recurring days) when there is daylight time."""
    wanted = [(i.text or "").strip() for i in findall(op, "m:Ids/t:Id")]
    names = wanted or sorted(graph.WINDOWS_ZONES)
    full = _bool(op.get("ReturnFullTimeZoneData"), True)
    year = dt.datetime.fromtimestamp(ctx.now, graph.UTC).year
    out = []
    for name in names:
        zone = graph.find_zone(name)
        if zone is None or zone.windows not in graph.WINDOWS_ZONES:
            err = EwsError("ErrorInvalidRequest", f"The request is invalid. (No time zone "
                           f"'{name}'.)")
            return response("GetServerTimeZones", message(
                "m:GetServerTimeZonesResponseMessage", error=err))
        out.append(_zone_definition(zone, year, full))
    return response("GetServerTimeZones", message(
        "m:GetServerTimeZonesResponseMessage", el("m:TimeZoneDefinitions", "".join(out))))


def _iso_minutes(minutes: int) -> str:
    sign = "-" if minutes < 0 else ""
    h, m = divmod(abs(minutes), 60)
    return f"{sign}PT{h}H" + (f"{m}M" if m else "") if h else f"{sign}PT{m}M"


def _zone_definition(zone: Zone, year: int, full: bool, tag: str = "t:TimeZoneDefinition"
                     ) -> str:
    """A zone in EWS's TimeZoneDefinition form: its Windows id; with `full` its periods and
    the year's transitions."""
    windows = zone.windows
    z = legacy_zone(zone.label, year)
    attrs = {"Id": windows, "Name": windows}
    if not full:
        return el(tag, attrs=attrs)
    rid = f"trule:Microsoft/Registry/{windows}/{year}"
    periods = el("t:Period", attrs={"Bias": _iso_minutes(z.bias + z.std_bias),
                                    "Name": "Standard", "Id": f"{rid}-Standard"})
    if z.dst is None:
        group = el("t:Transition", el("t:To", f"{rid}-Standard", {"Kind": "Period"}))
    else:
        periods += el("t:Period", attrs={"Bias": _iso_minutes(z.bias + z.dst_bias),
                                         "Name": "Daylight", "Id": f"{rid}-Daylight"})
        group = ""
        for rule, period in ((z.dst, "Daylight"), (z.std, "Standard")):
            group += el("t:RecurringDayTransition",
                        el("t:To", f"{rid}-{period}", {"Kind": "Period"})
                        + txt("t:TimeOffset", _iso_minutes(rule.time.hour * 60
                                                           + rule.time.minute))
                        + txt("t:Month", rule.month) + txt("t:DayOfWeek", WEEKDAYS[rule.weekday])
                        + txt("t:Occurrence", -1 if rule.order == 5 else rule.order))
    inner = (el("t:Periods", periods)
             + el("t:TransitionsGroups", el("t:TransitionsGroup", group, {"Id": "0"}))
             + el("t:Transitions", el("t:Transition", el("t:To", "0", {"Kind": "Group"}))))
    return el(tag, inner, attrs)


# -- GetUserAvailability --------------------------------------------------------------------------


def op_get_user_availability(ctx: Ctx, op: Element) -> str:
    """Free/busy of rooms and people: MergedFreeBusy digits per interval, and the events (with
    details where the caller has rights on the calendar, never for private meetings), in the
    request's time zone; the room's working hours. Free/busy needs no right (Exchange's default
    AvailabilityOnly)."""
    tz = parse_legacy(find(op, "t:TimeZone"))
    options = find(op, "t:FreeBusyViewOptions")
    if options is None:
        raise EwsError("ErrorInvalidRequest", "The request is invalid. (Give "
                       "FreeBusyViewOptions.)")
    ws = _window_time(text_of(options, "t:TimeWindow/t:StartTime"), tz, "StartTime")
    we = _window_time(text_of(options, "t:TimeWindow/t:EndTime"), tz, "EndTime")
    interval = _int(text_of(options, "t:MergedFreeBusyIntervalInMinutes"),
                    "MergedFreeBusyIntervalInMinutes", 5, 1440) or 30
    view = text_of(options, "t:RequestedView") or "Detailed"
    views = ("None", "MergedOnly", "FreeBusy", "FreeBusyMerged", "Detailed", "DetailedMerged")
    if view not in views:
        raise _enum_fault("RequestedView", view)
    if we <= ws or we - ws > MAX_AVAILABILITY_DAYS * 86400:
        raise EwsError("ErrorInvalidTimeInterval", "The time interval is invalid. (StartTime "
                       f"before EndTime, at most {MAX_AVAILABILITY_DAYS} days.)")
    mailboxes = findall(op, "m:MailboxDataArray/t:MailboxData")
    if not mailboxes or len(mailboxes) > MAX_AVAILABILITY_MAILBOXES:
        raise EwsError("ErrorInvalidRequest", "The request is invalid. (1 to "
                       f"{MAX_AVAILABILITY_MAILBOXES} MailboxData.)")
    out = []
    for md in mailboxes:
        address = text_of(md, "t:Email/t:Address") or ""
        who = graph.find_mailbox(ctx.t, address)
        if who is None:
            err = EwsError("ErrorMailRecipientNotFound", f"Unable to resolve e-mail address "
                           f"<>;SMTP:{address} to an Active Directory object.",
                           txt("t:ExceptionType", "Microsoft.Exchange.InfoWorker.Common."
                               "Availability.MailRecipientNotFoundException"))
            out.append(el("m:FreeBusyResponse", message("m:ResponseMessage", error=err)))
            continue
        out.append(el("m:FreeBusyResponse", message("m:ResponseMessage")
                      + _free_busy_view(ctx, who, tz, ws, we, interval, view)))
    return el("m:GetUserAvailabilityResponse", el("m:FreeBusyResponseArray", "".join(out)),
              {"xmlns:m": M_NS, "xmlns:t": T_NS})


def _window_time(text: str | None, tz: Legacy, what: str) -> float:
    """A TimeWindow time: in the request's t:TimeZone, unless it carries Z or an offset."""
    d = graph.parse_iso(text, graph.UTC) if text else None
    if d is None:
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: The "
                        f"'{what}' value '{text or ''}' is not a valid xs:dateTime.")
    if re.search(r"(Z|[+-]\d\d:?\d\d)$", text.strip(), re.IGNORECASE):
        return d.timestamp()
    return tz.to_utc(d.replace(tzinfo=None))


def _free_busy_view(ctx: Ctx, who: Mailbox, tz: Legacy, ws: float, we: float, interval: int,
                    view: str) -> str:
    detail = who.oid == ctx.user["id"] or right(ctx, who) != "none"
    if view.startswith("Detailed") and not detail:
        view = "FreeBusy" + view[len("Detailed"):]
    merged = view in ("MergedOnly", "FreeBusyMerged", "DetailedMerged")
    events = []
    busy = []
    for i in graph.instances(ctx.t, who.address, ws, we):
        d = i.data
        if d["cancelled"]:
            continue
        kind = FREE_BUSY.get(d["show_as"], "Busy")
        busy.append((i.start, i.end, DIGITS[kind]))
        if view in ("None", "MergedOnly"):
            continue
        private = d["sensitivity"] in ("private", "confidential")
        details = ""
        if view.startswith("Detailed"):
            details = el("t:CalendarEventDetails", txt("t:ID", base64.b64decode(
                item_id(who, i)).hex().upper())
                         + txt("t:Subject", None if private else d["subject"])
                         + txt("t:Location", None if private else
                               d["location"].get("displayName", ""))
                         + txt("t:IsMeeting", bool(d["attendees"]) or not d["is_organizer"])
                         + txt("t:IsRecurring", i.kind in ("occurrence", "exception"))
                         + txt("t:IsException", i.kind == "exception")
                         + txt("t:IsReminderSet", d["reminder_on"])
                         + txt("t:IsPrivate", private))
        events.append(el("t:CalendarEvent", txt("t:StartTime", _local(tz, i.start))
                         + txt("t:EndTime", _local(tz, i.end)) + txt("t:BusyType", kind)
                         + details))
    digits = ""
    if merged:
        slot = interval * 60
        n = 0
        while ws + n * slot < we:
            s0, s1 = ws + n * slot, min(we, ws + (n + 1) * slot)
            digits += max((code for a, b, code in busy if a < s1 and b > s0 and code != "0"),
                          default="0")
            n += 1
    wh = graph.working_hours(ctx.t, who)
    office = graph.office_zone(ctx.t)
    year = dt.datetime.fromtimestamp(ws, graph.UTC).year
    working = el("t:WorkingHours", legacy_xml(legacy_zone(office.label, year))
                 + el("t:WorkingPeriodArray", el(
                     "t:WorkingPeriod", txt("t:DayOfWeek", " ".join(
                         d.capitalize() for d in wh["daysOfWeek"]))
                     + txt("t:StartTimeInMinutes", _minutes(wh["startTime"]))
                     + txt("t:EndTimeInMinutes", _minutes(wh["endTime"])))))
    inner = txt("t:FreeBusyViewType", view) + (txt("t:MergedFreeBusy", digits) if merged else "")
    if view not in ("None", "MergedOnly"):
        inner += el("t:CalendarEventArray", "".join(events))
    return el("m:FreeBusyView", inner + working)


def _local(tz: Legacy, ts: float) -> str:
    return tz.to_local(ts).strftime("%Y-%m-%dT%H:%M:%S")


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")[:2]
    return int(h) * 60 + int(m)


# -- ConvertId ------------------------------------------------------------------------------------


def op_convert_id(ctx: Ctx, op: Element) -> str:
    """ConvertId between EwsId, RestId, EntryId and HexEntryId of this tenant's item ids;
    anything else is ErrorInvalidIdMalformed (exchangelib's version probe sends "DUMMY")."""
    target = op.get("DestinationFormat") or ""
    out = []
    for a in findall(op, "m:SourceIds/t:AlternateId"):
        try:
            raw = _decode_id(a.get("Id") or "", a.get("Format") or "")
            parsed = graph.parse_event_id(base64.b64encode(raw).decode().translate(_TO_REST))
            if parsed is None:
                raise EwsError("ErrorInvalidIdMalformed")
            mb = mailbox_by_oid(ctx, parsed[0])
            if mb is None:
                raise EwsError("ErrorItemNotFound")
            converted = {"EwsId": base64.b64encode(raw).decode(),
                         "EwsLegacyId": base64.b64encode(raw).decode(),
                         "RestId": base64.b64encode(raw).decode().translate(_TO_REST),
                         "EntryId": base64.b64encode(raw).decode(),
                         "HexEntryId": raw.hex().upper()}.get(target)
            if converted is None:
                raise EwsError("ErrorInvalidRequest", f"The request is invalid. (No format "
                               f"{target} here.)")
            out.append(message("m:ConvertIdResponseMessage", el("m:AlternateId", attrs={
                "xsi:type": "t:AlternateIdType", "Format": target, "Id": converted,
                "Mailbox": mb.address})))
        except EwsError as e:
            out.append(message("m:ConvertIdResponseMessage", error=e))
    return response("ConvertId", "".join(out))


def _decode_id(text: str, fmt: str) -> bytes:
    try:
        if fmt == "HexEntryId":
            return bytes.fromhex(text)
        if fmt == "RestId":
            text = text.translate(_TO_EWS)
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise EwsError("ErrorInvalidIdMalformed") from None


# -- the endpoint ---------------------------------------------------------------------------------

OPERATIONS: dict[str, tuple[Callable[[Ctx, Element], str], str | None]] = {
    # operation: (handler, the response message's element; None: the response carries the class)
    "FindItem": (op_find_item, "m:FindItemResponseMessage"),
    "GetItem": (op_get_item, "m:GetItemResponseMessage"),
    "CreateItem": (op_create_item, "m:CreateItemResponseMessage"),
    "UpdateItem": (op_update_item, "m:UpdateItemResponseMessage"),
    "DeleteItem": (op_delete_item, "m:DeleteItemResponseMessage"),
    "GetFolder": (op_get_folder, "m:GetFolderResponseMessage"),
    "GetUserAvailability": (op_get_user_availability, None),
    "GetRoomLists": (op_get_room_lists, None),
    "GetRooms": (op_get_rooms, None),
    "ResolveNames": (op_resolve_names, "m:ResolveNamesResponseMessage"),
    "GetServerTimeZones": (op_get_server_time_zones, "m:GetServerTimeZonesResponseMessage"),
    "ConvertId": (op_convert_id, "m:ConvertIdResponseMessage"),
}


def _count(op_name: str, op: Element) -> int:
    """How many response messages an operation's answer has (one per requested thing)."""
    path = {"FindItem": "m:ParentFolderIds/*", "GetItem": "m:ItemIds/*",
            "CreateItem": "m:Items/*", "UpdateItem": "m:ItemChanges/*",
            "DeleteItem": "m:ItemIds/*", "GetFolder": "m:FolderIds/*",
            "GetUserAvailability": "m:MailboxDataArray/t:MailboxData",
            "ConvertId": "m:SourceIds/*"}.get(op_name)
    return max(1, len(findall(op, path))) if path else 1


def error_body(op_name: str, op: Element, err: EwsError) -> str:
    """The operation's answer when it fails as a whole: ResponseClass="Error" in each of its
    response messages (or on the response itself for GetRooms and GetRoomLists)."""
    tag = OPERATIONS[op_name][1]
    if op_name in ("GetRooms", "GetRoomLists"):
        return el(f"m:{op_name}Response", _status(err), {"ResponseClass": "Error",
                                                         "xmlns:m": M_NS, "xmlns:t": T_NS})
    if op_name == "GetUserAvailability":
        one = el("m:FreeBusyResponse", message("m:ResponseMessage", error=err))
        return el("m:GetUserAvailabilityResponse",
                  el("m:FreeBusyResponseArray", one * _count(op_name, op)),
                  {"xmlns:m": M_NS, "xmlns:t": T_NS})
    return response(op_name, message(tag, error=err) * _count(op_name, op))


def _envelope_checks(req: Request) -> tuple[Zone | None, str, Element]:
    """(TimeZoneContext's zone, operation name, operation element) of a request EWS can take;
    SoapFault if not."""
    root = parse(req)
    header = root.find(q("s", "Header"))
    version = header.find(q("t", "RequestServerVersion")) if header is not None else None
    if version is not None and not _VERSION.fullmatch(version.get("Version") or ""):
        raise SoapFault("ErrorInvalidServerVersion", "The specified server version is invalid.")
    if header is not None and header.find(q("t", "ExchangeImpersonation")) is not None:
        raise SoapFault("ErrorImpersonateUserDenied", "The account does not have permission to "
                        "impersonate the requested user.")
    body = root.find(q("s", "Body"))
    op = next(iter(body), None)
    name = operation(req)
    if op is None or not op.tag.startswith("{" + M_NS + "}") or name not in OPERATIONS:
        shown = local(op.tag) if op is not None else "(nothing)"
        raise SoapFault("ErrorSchemaValidation", "The request failed schema validation: The "
                        f"element 'Body' has invalid child element '{shown}'. (This tenant serves "
                        f"{', '.join(OPERATIONS)}.)")
    zone = None
    zid = attr_of(header, "t:TimeZoneContext/t:TimeZoneDefinition", "Id")
    if zid is not None:
        zone = graph.find_zone(zid)
        if zone is None:
            raise SoapFault("ErrorTimeZone", f"The time zone isn't valid. ('{zid}' is not a time "
                            "zone this tenant knows.)")
    return zone, name, op


def endpoint(req: Request) -> Response:
    """POST /EWS/Exchange.asmx."""
    t = req.tenant
    account = authenticate(req)
    try:
        zone, name, op = _envelope_checks(req)
        req.notes["form"] = {"operation": name, **req.notes["form"]}
        user = identity.find_user(t, account["upn"])
        ctx = Ctx(req, t, account, user, graph.user_mailbox(t, user), zone)
        handler = OPERATIONS[name][0]
        try:
            body = handler(ctx, op)
        except EwsError as e:
            body = error_body(name, op, e)
            req.notes["error"] = e.code
        else:
            codes = re.findall(r"<m:ResponseCode>(\w+)</m:ResponseCode>", body)
            failed = next((c for c in codes if c != "NoError"), None)
            if failed:
                req.notes["error"] = failed
        return soap(req, body)
    except SoapFault as e:
        return fault(req, e.code, e.text, extra=e.extra)


# -- faults: the module's hooks -------------------------------------------------------------------


def error_response(req: Request, status: int) -> Response:
    """What an injected status carries on EWS. 500 and 503 are EWS's own, after authentication:
    a SOAP fault, 500 ErrorInternalServerError, 503 ErrorServerBusy with BackOffMilliseconds
    (the fault's `code`, `message` and `back_off_ms` choose others: "EWS throttling in Exchange"
    documents throttling as HTTP 500 with ErrorServerBusy). 401 is IIS's challenge; other
    statuses IIS's own page for them."""
    f = req.scratch.get("fault")
    if status in (500, 503):
        try:
            authenticate(req)  # EWS throttles and fails requests it has authenticated
        except HttpError as e:
            return e.response
        default = "ErrorServerBusy" if status == 503 else "ErrorInternalServerError"
        code = getattr(f, "code", None) or default
        back = getattr(f, "back_off_ms", None)
        if code == "ErrorServerBusy" and back is None:
            back = DEFAULT_BACK_OFF_MS
        return fault(req, code, getattr(f, "message", None), back, status=status)
    if status == 401:
        return unauthorized(req, "injected 401")
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return Response(status, _iis_page(status, f"{status} - {phrase}", f"HTTP Error {status}. "
                                      f"{phrase}."), [("X-Powered-By", "ASP.NET")], "text/html")


def code_response(req: Request, f: Any) -> Response:
    """A fault of kind `code` on EWS: HTTP 200, the operation's own answer with
    ResponseClass="Error" and that ResponseCode (ErrorServerBusy carries BackOffMilliseconds in
    MessageXml). The endpoint does not run; the request is still authenticated first."""
    try:
        authenticate(req)
    except HttpError as e:
        return e.response
    try:
        _, name, op = _envelope_checks(req)
    except SoapFault as e:
        return fault(req, e.code, e.text, extra=e.extra)
    back = f.back_off_ms
    if f.code == "ErrorServerBusy" and back is None:
        back = DEFAULT_BACK_OFF_MS
    err = EwsError(f.code, f.message, busy_xml(back) if back is not None else "")
    req.notes["form"] = {"operation": name, **req.notes["form"]}
    return soap(req, error_body(name, op, err))


# -- the admin API's EWS part ---------------------------------------------------------------------


def _admin_error(status: int, message_: str) -> HttpError:
    return HttpError(json_response({"error": message_}, status))


def account_json(t: Tenant, a: sqlite3.Row) -> dict:
    dom = domain(t) or ""
    return {"logon": a["logon"], "domain": dom, "name": f"{dom}\\{a['logon']}", "upn": a["upn"],
            "locked": bool(a["locked"]), "failed_logons": a["failed"],
            "last_logon_attempt": identity.iso(a["last"]) if a["last"] else None}


def admin_accounts(req: Request) -> Response:
    """GET /_admin/ews/accounts: the EWS accounts (never a password or hash)."""
    t = req.tenant
    return json_response({"endpoint": t.base_url + PATH, "domain": domain(t),
                          "accounts": [account_json(t, a) for a in accounts(t)]})


def admin_lock(req: Request) -> Response:
    """POST /_admin/ews/accounts/lock {"account": name, "locked": true|false}: lock or unlock
    an account, as Active Directory's lockout (or an admin) would."""
    t = req.tenant
    body = req.json()
    if not isinstance(body, dict):
        raise _admin_error(400, "the body must be a JSON object")
    unknown = sorted(set(body) - {"account", "locked"})
    if unknown:
        raise _admin_error(400, f"unknown key {unknown[0]!r} (known: account, locked)")
    name, locked = body.get("account"), body.get("locked", True)
    if not isinstance(name, str) or not name:
        raise _admin_error(400, "give {\"account\": \"svc-panels\" (or DOMAIN\\\\logon, or the "
                                "UPN), \"locked\": true}")
    if not isinstance(locked, bool):
        raise _admin_error(400, "\"locked\" is true or false")
    account = find_account(t, name)
    if account is None:
        raise _admin_error(404, f"no EWS account {name}")
    with t.store.tx() as db:
        db.execute("UPDATE ews_accounts SET locked = ?, failed = CASE WHEN ? THEN failed ELSE 0 "
                   "END WHERE logon = ?", (int(locked), int(locked), account["logon"]))
    return json_response(account_json(t, find_account(t, account["logon"])))


def register(t: Tenant) -> None:
    me = sys.modules[__name__]
    _write_user_file(t)
    t.router.add("POST", re.escape(PATH), endpoint, me, re.IGNORECASE)
    t.router.add("GET", r"/_admin/ews/accounts", admin_accounts, me)
    t.router.add("POST", r"/_admin/ews/accounts/lock", admin_lock, me)
