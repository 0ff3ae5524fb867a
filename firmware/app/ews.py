# Exchange Web Services for one room mailbox on Exchange Server on premises (docs/ews.md): the
# same calls as app/graph.py, as SOAP 1.1 to https://host/EWS/Exchange.asmx with the service
# account's own credentials (NTLMv2 or Basic, over TLS). Answers are read as a stream by
# app/xmlstream, and each calendar item is cut down to the panel's compact event as it passes,
# so a busy calendar never sits in RAM as text. Element names and shapes: Microsoft Learn, "EWS
# reference for Exchange" (FindItem, GetUserAvailability, GetRoomLists, GetRooms, CreateItem,
# UpdateItem; "EWS throttling in Exchange" for ErrorServerBusy and BackOffMilliseconds).
import binascii
import gc
import time

from app import clock, xmlstream
from app.backend import BackendError
from app.http import retry_after
from app.http_errors import HttpError
from app.xmlstream import escape

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
MESSAGES = "http://schemas.microsoft.com/exchange/services/2006/messages"
TYPES = "http://schemas.microsoft.com/exchange/services/2006/types"
ERRORS = "http://schemas.microsoft.com/exchange/services/2006/errors"
NAMES = {SOAP: "s", MESSAGES: "m", TYPES: "t", ERRORS: "e"}
# Exchange 2013 and later (2016, 2019, Subscription Edition) answer this schema.
VERSION = "Exchange2013"
ENVELOPE = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="%s" xmlns:m="%s" '
            'xmlns:t="%s"><s:Header><t:RequestServerVersion Version="%s"/></s:Header><s:Body>'
            % (SOAP, MESSAGES, TYPES, VERSION))
ENVELOPE_END = "</s:Body></s:Envelope>"
# The event fields the panel shows or reasons with (graph.EVENT_FIELDS's EWS names);
# MyResponseType tells the room's own bookings (Organizer) from meetings it was invited to.
EVENT_FIELDS = ("item:Subject", "item:Sensitivity", "calendar:Start", "calendar:End",
                "calendar:IsAllDayEvent", "calendar:IsCancelled", "calendar:LegacyFreeBusyStatus",
                "calendar:Organizer", "calendar:MyResponseType")
MAX_ENTRIES = 200  # a CalendarView has no paging: two days of the busiest room fit
MAX_TEXT = 512  # the longest text kept of one element (a subject is at most 255 characters)
# Reading XML makes about 10 KB of short-lived objects per calendar item, and the events it
# keeps would end up scattered between them: a collection every few items keeps them
# together, and the heap whole for the screen's larger blocks later (40 events: the largest
# free block 111 KB instead of 24 KB, docs/ews.md).
COLLECT_EVERY = 4
AVAILABILITY_MAX = 100  # mailboxes in one GetUserAvailability (Microsoft Learn, its page)
MAX_ITEMS = 250  # items in one answer: two busy days, or a room list's rooms
ITEM_FIELDS = 40  # fields kept of one item (a calendar item has about 15)
ITEM_DEPTH = 4  # levels kept inside an item ("Organizer/Mailbox/Name")
MAX_ITEM = 4096  # bytes of text kept of one item (graph.MAX_ITEM)
INLINE_RETRY_MAX = 3  # a back-off up to this many seconds is waited out in this wake
RETRY_AFTER_CAP = 900  # a longer one still wakes the panel again within 15 minutes
SHOW_AS = {"Free": "free", "Tentative": "tentative", "Busy": "busy", "OOF": "oof",
           "WorkingElsewhere": "workingElsewhere", "NoData": "unknown"}
# Response codes (Microsoft Learn, "ResponseCode") and what they mean for the panel.
FORBIDDEN = ("ErrorAccessDenied", "ErrorFolderNotFound", "ErrorDelegateNoUser",
             "ErrorNoPublicFolderReplicaAvailable", "ErrorSendAsDenied",
             "ErrorImpersonationDenied")
NOT_FOUND = ("ErrorNonExistentMailbox", "ErrorInvalidSmtpAddress", "ErrorMailRecipientNotFound")
BUSY = ("ErrorServerBusy", "ErrorTooManyObjectsOpened")
UNAVAILABLE = ("ErrorInternalServerError", "ErrorInternalServerTransientError",
               "ErrorMailboxStoreUnavailable", "ErrorMailboxMoveInProgress", "ErrorTimeoutExpired",
               "ErrorConnectionFailed", "ErrorBatchProcessingStopped")


class Ews:
    all_day_moments = True  # all-day events as the moments of the mailbox's midnights

    def __init__(self, session, backend):
        # backend: the resolved [backend] table (docs/config.md): url, auth, account, user,
        # domain, password
        self.session = session
        self.url = backend["url"]
        self.auth = backend["auth"]
        self._backend = backend
        self._basic = None
        if self.auth == "basic":
            self._basic = "Basic " + binascii.b2a_base64(
                ("%s:%s" % (backend["account"], backend["password"])).encode()).decode().strip()
        self._ntlm_conns = -1  # the session's connection count when NTLM last signed in
        self._own = set()  # ids of the room's own bookings read (deleted, not declined)

    # -- reads -------------------------------------------------------------------------------

    def calendar_view(self, mailbox, start, end, on_event):
        """Call on_event(event) for each event of mailbox between start and end (Unix seconds),
        ordered by start; events as graph.compact_event makes them."""
        fields = "".join('<t:FieldURI FieldURI="%s"/>' % f for f in EVENT_FIELDS)
        body = ('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>'
                '<t:AdditionalProperties>%s</t:AdditionalProperties></m:ItemShape>'
                '<m:CalendarView MaxEntriesReturned="%d" StartDate="%s" EndDate="%s"/>'
                '<m:ParentFolderIds>%s</m:ParentFolderIds></m:FindItem>' % (
                    fields, MAX_ENTRIES, clock.format_iso_z(start), clock.format_iso_z(end),
                    _calendar(mailbox)))
        own = self._own
        mailbox = mailbox.lower()
        count = [0]

        def item(doc):
            event = _event(doc, mailbox)
            if doc.get("MyResponseType") == "Organizer":
                own.add(event["id"])
            on_event(event)
            count[0] += 1
            if count[0] % COLLECT_EVERY == 0:
                gc.collect()

        answer = self._call(body, "t:CalendarItem", item)
        if answer.attrs.get("IncludesLastItemInRange") == "false":
            print("note: the room has more than %d events in two days; the panel shows the "
                  "first %d" % (MAX_ENTRIES, MAX_ENTRIES))

    def room_lists(self, on_list):
        self._call("<m:GetRoomLists/>", "t:Address", lambda d: on_list(_place(d, "")))

    def rooms_in(self, room_list, on_room):
        self._call("<m:GetRooms><m:RoomList><t:EmailAddress>%s</t:EmailAddress></m:RoomList>"
                   "</m:GetRooms>" % escape(room_list), "t:Room",
                   lambda d: on_room(_place(d, "Id/")))

    def schedule(self, addresses, start, end, interval_min, on_schedule):
        """Free/busy of addresses, as graph.Graph.schedule gives it: on_schedule({"address",
        "view", "error"}) per address; `view` is EWS's MergedFreeBusy, one digit per interval
        (0 free, 1 tentative, 2 busy, 3 away, 4 no data)."""
        addresses = list(addresses)
        for i in range(0, len(addresses), AVAILABILITY_MAX):
            self._free_busy(addresses[i:i + AVAILABILITY_MAX], start, end, interval_min,
                            on_schedule)

    def _free_busy(self, addresses, start, end, interval_min, on_schedule):
        # The time window is read in the request's time zone: UTC, without daylight saving.
        utc = "<t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>1</t:DayOrder>" \
              "<t:Month>1</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek>"
        mailboxes = "".join(
            "<t:MailboxData><t:Email><t:Address>%s</t:Address></t:Email><t:AttendeeType>Room"
            "</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData>"
            % escape(a) for a in addresses)
        body = ('<m:GetUserAvailabilityRequest><t:TimeZone><t:Bias>0</t:Bias><t:StandardTime>%s'
                '</t:StandardTime><t:DaylightTime>%s</t:DaylightTime></t:TimeZone>'
                '<m:MailboxDataArray>%s</m:MailboxDataArray><t:FreeBusyViewOptions>'
                '<t:TimeWindow><t:StartTime>%s</t:StartTime><t:EndTime>%s</t:EndTime>'
                '</t:TimeWindow><t:MergedFreeBusyIntervalInMinutes>%d'
                '</t:MergedFreeBusyIntervalInMinutes><t:RequestedView>MergedOnly'
                '</t:RequestedView></t:FreeBusyViewOptions></m:GetUserAvailabilityRequest>' % (
                    utc, utc, mailboxes, clock.format_iso(start), clock.format_iso(end),
                    interval_min))
        # The answers come in the order of the request: the n-th is the n-th address's.
        count = [0]

        def item(doc):
            n = count[0]
            count[0] = n + 1
            if n >= len(addresses):
                raise BackendError("bad_response", "Exchange sent more free/busy answers than "
                                   "rooms asked for")
            error = None
            if doc.get("ResponseMessage@ResponseClass", "Success") != "Success":
                error = doc.get("ResponseMessage/ResponseCode") or "Error"
            on_schedule({"address": addresses[n], "error": error,
                         "view": doc.get("FreeBusyView/MergedFreeBusy")})

        self._call(body, "m:FreeBusyResponse", item)

    # -- writes ------------------------------------------------------------------------------

    def create_event(self, mailbox, subject, start, end, body_text=None):
        """Book the room: an item in its calendar; returns it as graph.compact_event would."""
        text = '<t:Body BodyType="Text">%s</t:Body>' % escape(body_text) if body_text else ""
        body = ('<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId>%s'
                '</m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>%s</t:Subject>%s'
                '<t:Start>%s</t:Start><t:End>%s</t:End><t:LegacyFreeBusyStatus>Busy'
                '</t:LegacyFreeBusyStatus></t:CalendarItem></m:Items></m:CreateItem>' % (
                    _calendar(mailbox), escape(subject), text, clock.format_iso_z(start),
                    clock.format_iso_z(end)))
        ids = []
        self._call(body, "t:CalendarItem", ids.append)
        item_id = ids[0].get("ItemId@Id") if ids else None
        if not item_id:
            raise BackendError("bad_response", "Exchange booked the room but sent no item id")
        self._own.add(item_id)
        return {"id": item_id, "start": start, "end": end, "subject": subject,
                "organizer": "", "organizer_address": mailbox.lower(), "private": False,
                "all_day": False, "cancelled": False, "show_as": "busy"}

    def move_end(self, mailbox, event_id, end):
        """Extend or end early: set the item's end."""
        self._call('<m:UpdateItem ConflictResolution="AlwaysOverwrite" '
                   'SendMeetingInvitationsOrCancellations="SendToNone"><m:ItemChanges>'
                   '<t:ItemChange><t:ItemId Id="%s"/><t:Updates><t:SetItemField>'
                   '<t:FieldURI FieldURI="calendar:End"/><t:CalendarItem><t:End>%s</t:End>'
                   '</t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange>'
                   '</m:ItemChanges></m:UpdateItem>' % (escape(event_id),
                                                        clock.format_iso_z(end)), None, None)

    def decline(self, mailbox, event_id, comment):
        """Release a no-show: the room declines a meeting it was invited to, which tells the
        organizer. A booking the room holds itself (made at the panel: an appointment without
        attendees, which a cancellation could not be sent for) is deleted."""
        if event_id in self._own:
            self._call('<m:DeleteItem DeleteType="MoveToDeletedItems" SendMeetingCancellations='
                       '"SendToAllAndSaveCopy"><m:ItemIds><t:ItemId Id="%s"/></m:ItemIds>'
                       '</m:DeleteItem>' % escape(event_id), None, None)
            return
        self._call('<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:DeclineItem>'
                   '<t:Body BodyType="Text">%s</t:Body><t:ReferenceItemId Id="%s"/>'
                   '</t:DeclineItem></m:Items></m:CreateItem>' % (escape(comment),
                                                                   escape(event_id)),
                   None, None)

    def send_mail(self, to, subject, text):
        """A service request from the service account's mailbox; to = {"address", "name"}."""
        name = "<t:Name>%s</t:Name>" % escape(to["name"]) if to.get("name") else ""
        self._call('<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:SavedItemFolderId>'
                   '<t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId><m:Items>'
                   '<t:Message><t:Subject>%s</t:Subject><t:Body BodyType="Text">%s</t:Body>'
                   '<t:ToRecipients><t:Mailbox>%s<t:EmailAddress>%s</t:EmailAddress>'
                   '</t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>' % (
                       escape(subject), escape(text), name, escape(to["address"])), None, None)

    # -- plumbing ----------------------------------------------------------------------------

    def _call(self, operation, item_name, on_item):
        """Send one operation; on_item(fields) per `item_name` element of the answer. Returns
        the answer (_Answer); BackendError for an error answer. A short back-off is waited out
        once."""
        data = (ENVELOPE + operation + ENVELOPE_END).encode()
        waited = False
        while True:
            r = self._post(data)
            answer = None
            try:
                status = r.status_code
                if status in (200, 500) and _is_xml(r):
                    answer = read_answer(r, item_name, on_item, r.host)
            finally:
                r.close()  # reads away a short rest: the connection stays, NTLM's sign-in too
            if answer is not None:
                error = answer.error or _status_error(status, None)
            elif status == 200:
                error = BackendError("bad_response", "Exchange answered with %s, not XML" % (
                    (r.headers.get("content-type") or "no content type")[:40]), status)
            else:
                error = _status_error(status, r.headers.get("retry-after"))
            if error is None:
                return answer
            wait = error.retry_after
            if error.kind == "throttled" and not waited and wait is not None \
                    and wait <= INLINE_RETRY_MAX:
                waited = True
                time.sleep(wait)
                continue
            raise error

    def _post(self, data):
        headers = {"Content-Type": "text/xml; charset=utf-8", "Accept": "text/xml"}
        if self._basic is not None:
            headers["Authorization"] = self._basic
            r = self._send(data, headers)
            if r.status_code == 401:
                r.close()
                raise _refused()
            return r
        if self._ntlm_conns == self.session.stats["connections"]:
            # The connection NTLM signed in on is still open: it carries the sign-in.
            r = self._send(data, headers)
            if r.status_code != 401:
                return r
            r.close()
        return self._ntlm(data, headers)

    def _ntlm(self, data, headers):
        """NTLM signs in a connection (MS-NLMP 3.1.5): NEGOTIATE with an empty body, the
        server's CHALLENGE on a 401, then AUTHENTICATE with the real request, on the same
        connection."""
        from app import ntlm  # only a panel on NTLM loads it

        first = ntlm.negotiate()
        headers["Authorization"] = "NTLM " + _b64(first)
        r = self._send(b"", headers)
        r.close()
        conns = self.session.stats["connections"]
        b = self._backend
        try:
            challenge = ntlm.header_challenge(r.headers.get("www-authenticate") or "")
            if r.status_code != 401:
                raise _status_error(r.status_code, r.headers.get("retry-after")) or \
                    BackendError("bad_response", "Exchange accepted a request without a "
                                 "sign-in", r.status_code)
            if challenge is None:
                raise BackendError("credentials", "Exchange does not offer NTLM sign-in on "
                                   "this address", 401, "no_ntlm")
            last = ntlm.authenticate(first, challenge, b["user"], b["domain"], b["password"],
                                     now=clock.now())
        except ntlm.NtlmError as e:
            raise BackendError("bad_response", "Exchange's NTLM challenge: " + e.words, 401,
                               "bad_challenge") from None
        if (r.headers.get("connection") or "").lower() == "close":
            raise _ntlm_lost()
        headers["Authorization"] = "NTLM " + _b64(last)
        r = self._send(data, headers)
        if self.session.stats["connections"] != conns:
            r.close()
            raise _ntlm_lost()
        if r.status_code == 401:
            r.close()
            raise _refused()
        self._ntlm_conns = conns
        return r

    def _send(self, data, headers):
        return self.session.request("POST", self.url, data=data, headers=headers, stream=True)


def _refused():
    # IIS answers a wrong password, a locked-out and a disabled account with the same 401.
    return BackendError("credentials", "Exchange refused the service account's user name or "
                        "password", 401, "unauthorized")


def _ntlm_lost():
    return BackendError("unavailable", "the connection to Exchange closed during the NTLM "
                        "sign-in; a proxy may not keep connections open", None,
                        "ntlm_connection")


def read_answer(source, item_name, on_item, host=None):
    """Read a SOAP answer from source.readinto(buf): on_item(fields) per `item_name` element;
    the _Answer, whose `error` is the BackendError it holds (None: a success)."""
    answer = _Answer(item_name, on_item)
    try:
        xmlstream.read(source, xmlstream.Reader(NAMES, answer.start, answer.end, MAX_TEXT,
                                                host=host))
    except HttpError as e:
        if e.reason != "bad_xml":
            raise
        raise BackendError("bad_response", str(e)) from None
    if not answer.body:
        raise BackendError("bad_response", "Exchange answered without a SOAP body")
    if answer.error is None and answer.count is None:
        raise BackendError("bad_response", "Exchange answered without a response message")
    return answer


class _Answer:
    """What the reader found: items handed over as flat dicts of the fields inside them
    ("Subject", "Organizer/Mailbox/Name", "ItemId@Id"), the response's class and code, a
    SOAP fault, the back-off Exchange asked for. An item is bounded (ITEM_FIELDS fields,
    ITEM_DEPTH levels, MAX_ITEM bytes of text) and so is their number (MAX_ITEMS): a server
    that sends more is damaged."""

    def __init__(self, item_name, on_item):
        self._item, self._on_item = item_name, on_item
        self._keys = []  # inside an item: the key of each open element ("Organizer/Mailbox")
        self._depth = 0  # the element depth; the item's, while inside one
        self._item_depth = -1
        self._fields = None
        self._size = 0  # bytes of text in the current item
        self.attrs = {}  # the RootFolder's attributes (FindItem)
        self.count = None  # response messages and items seen
        self.items = 0
        self.body = False  # the SOAP body ended
        self.error = None
        self._code = self._faultcode = self._fault = self._backoff = self._class = None

    def start(self, name, attrs):
        self._depth += 1
        fields = self._fields
        if fields is not None:
            keys = self._keys
            if len(keys) >= ITEM_DEPTH:
                keys.append(None)  # too deep to matter: not kept
                return
            parent = keys[-1] if keys else ""
            local = name[name.find(":") + 1:]
            key = None if parent is None else parent + "/" + local if parent else local
            keys.append(key)
            if key is not None:
                for k in ("Id", "ResponseClass"):
                    if k in attrs:
                        self._put(key + "@" + k, attrs[k])
            return
        if name == self._item:
            self.items += 1
            if self.items > MAX_ITEMS:
                raise BackendError("bad_response", "Exchange sent more than %d items"
                                   % MAX_ITEMS)
            self._fields, self._item_depth, self._keys, self._size = {}, self._depth, [], 0
            self.count = (self.count or 0) + 1
            return
        if "ResponseClass" in attrs and self._class in (None, "Success"):
            # m:FindItemResponseMessage, m:GetRoomListsResponse...: the first that is not a
            # success says what went wrong.
            self._class = attrs["ResponseClass"]
            self.count = (self.count or 0) + 1
        elif name == "m:RootFolder":
            self.attrs = attrs
        elif name == "s:Fault":
            self._fault = True
        elif name == "t:Value" and attrs.get("Name") == "BackOffMilliseconds":
            self._backoff = ""

    def end(self, name, text):
        depth = self._depth
        self._depth -= 1
        if self._fields is not None:
            if depth == self._item_depth:
                fields, self._fields = self._fields, None
                if self._on_item is not None:
                    self._on_item(fields)
                return
            key = self._keys.pop()
            if text and key is not None:
                self._put(key, text)
            return
        if name in ("m:ResponseCode", "e:ResponseCode") and self._code is None:
            self._code = text
        elif name == "faultcode":
            self._faultcode = text.rpartition(":")[2]  # "a:ErrorSchemaValidation"
        elif name == "t:Value" and self._backoff == "":
            self._backoff = text
        elif name == "s:Body":
            self.body = True
            self.error = self._outcome()

    def _put(self, key, value):
        fields = self._fields
        self._size += len(key) + len(value)
        if len(fields) >= ITEM_FIELDS or self._size > MAX_ITEM:
            raise BackendError("bad_response", "Exchange sent an item larger than the panel "
                               "reads (%d fields, %d bytes)" % (ITEM_FIELDS, MAX_ITEM))
        fields[key] = value

    def _outcome(self):
        if self._fault is None and self._class in (None, "Success", "Warning"):
            return None
        code = (self._code or self._faultcode or "").strip()[:60] or None
        backoff = None
        if self._backoff:
            try:
                backoff = max(1, (int(self._backoff) + 999) // 1000)
            except ValueError:
                pass
        return _code_error(code, self._fault is not None, backoff)


def _code_error(code, fault, backoff):
    label = code or ("a SOAP fault" if fault else "an error")
    if code in FORBIDDEN:
        return BackendError("forbidden", "Exchange refused the service account (%s)" % code,
                            None, code)
    if code in NOT_FOUND:
        return BackendError("not_found", "Exchange does not know this mailbox (%s)" % code,
                            None, code)
    if code in BUSY:
        return BackendError("throttled", "Exchange asked the panel to slow down (%s)" % code,
                            None, code, min(backoff or 60, RETRY_AFTER_CAP))
    if code in UNAVAILABLE or code is None and fault:
        return BackendError("unavailable", "Exchange had a server error (%s)" % label, None,
                            code, backoff or 60)
    if code == "ErrorItemNotFound":
        return BackendError("rejected", "the meeting is no longer in the room's calendar "
                            "(ErrorItemNotFound)", None, code)
    return BackendError("rejected", "Exchange refused the request (%s)" % label, None, code)


def _status_error(status, retry):
    """The error of an answer without an EWS error in it (None: a success)."""
    if status == 200:
        return None
    wait = retry_after(retry, RETRY_AFTER_CAP)
    if status == 403:
        return BackendError("forbidden", "Exchange refused the service account (HTTP 403)",
                            status)
    if status == 404:
        return BackendError("not_found", "no EWS at this address (HTTP 404)", status, "no_ews")
    if status in (429, 503, 504):
        return BackendError("throttled", "Exchange asked the panel to slow down (HTTP %d)"
                            % status, status, None, wait if wait is not None else 60)
    if status >= 500:
        return BackendError("unavailable", "Exchange had a server error (HTTP %d)" % status,
                            status, None, wait if wait is not None else 60)
    return BackendError("rejected", "Exchange refused the request (HTTP %d)" % status, status)


def _is_xml(r):
    kind = (r.headers.get("content-type") or "").lower()
    return "xml" in kind


def _b64(data):
    return binascii.b2a_base64(data).decode().strip()


def _calendar(mailbox):
    return ('<t:DistinguishedFolderId Id="calendar"><t:Mailbox><t:EmailAddress>%s'
            '</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>' % escape(mailbox))


def _time(doc, key):
    try:
        return clock.parse_iso(doc[key])
    except (KeyError, ValueError):
        raise BackendError("bad_response", "Exchange sent an event time the panel cannot "
                           "read") from None


def _event(doc, room):
    """The panel's compact event (graph.compact_event's fields) from a CalendarItem."""
    item_id = doc.get("ItemId@Id")
    if not item_id:
        raise BackendError("bad_response", "Exchange sent an event without an id")
    address = doc.get("Organizer/Mailbox/EmailAddress") or ""
    if doc.get("MyResponseType") == "Organizer":
        address = room  # booked in the room's own calendar
    elif doc.get("Organizer/Mailbox/RoutingType", "SMTP") != "SMTP":
        address = ""  # an Exchange-internal (X.500) address: no e-mail to compare
    return {
        "id": item_id,
        "start": _time(doc, "Start"),
        "end": _time(doc, "End"),
        "subject": doc.get("Subject") or "",
        "organizer": doc.get("Organizer/Mailbox/Name") or address,
        "organizer_address": address,
        "private": doc.get("Sensitivity") in ("Private", "Confidential"),
        "all_day": doc.get("IsAllDayEvent") == "true",
        "cancelled": doc.get("IsCancelled") == "true",
        "show_as": SHOW_AS.get(doc.get("LegacyFreeBusyStatus"), "busy"),
    }


def _place(doc, prefix):
    email = doc.get(prefix + "EmailAddress")
    return {"address": email.lower() if email else None,
            "name": doc.get(prefix + "Name") or email, "capacity": None}
