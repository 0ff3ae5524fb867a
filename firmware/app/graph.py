# Microsoft Graph v1.0 for one room mailbox (docs/microsoft365.md): the calendar window, room
# lists and their rooms, free/busy of other rooms, and the writes a door panel makes (book,
# extend, end early, decline a no-show, mail a service request). Collections are read as a
# stream, one item at a time (app.jsonstream), and items are cut down to what the screen uses
# as they arrive, so a busy calendar never sits in RAM as text.
import time

from app import clock, jsonstream
from app.backend import BackendError, SignInRequired
from app.http import b64_json, quote, retry_after, split_url
from app.http_errors import HttpError

# The event fields the panel shows or reasons with: $select keeps each event about 500 bytes.
EVENT_FIELDS = "subject,organizer,start,end,isAllDay,isCancelled,sensitivity,showAs"
PAGE_SIZE = 50  # $top: one page holds a busy room's two days; Graph's default would be 10
# The rest of calendarView's query, as sent. Like the times before it (digits, "-", "T", ":",
# "Z"), it holds only characters a query may carry unescaped (RFC 3986, 3.4: "$", ",", "/",
# ":"), as in Graph's own examples; escaping it each wake cost a quarter of a host ms.
VIEW_QUERY = "$select=" + EVENT_FIELDS + "&$orderby=start/dateTime"
PREFER_UTC = 'outlook.timezone="UTC"'
INLINE_RETRY_MAX = 3  # a Retry-After up to this many seconds is waited out in this wake
RETRY_AFTER_CAP = 900  # a longer Retry-After still wakes the panel again within 15 minutes
MAX_ITEM = 4096  # the largest single event or room the stream reader holds
MAX_SCHEDULE_ITEM = 8192  # one room's getSchedule answer holds its meetings in the window


class Graph:
    all_day_moments = False  # all-day events' dates as UTC midnights (room.all_day_in)

    def __init__(self, session, host, auth):
        # auth: bearer() -> the Authorization value; renew(challenge) -> refresh it now (after
        # a 401, with the claims its claims challenge asks for; app/tokens.py)
        self.session = session
        self.host = host
        self.auth = auth
        self._origin = split_url(host + "/")[:3]

    # -- reads -------------------------------------------------------------------------------

    def calendar_view(self, mailbox, start, end, on_event):
        """Call on_event(event) for each event of mailbox between start and end (Unix seconds),
        ordered by start, following @odata.nextLink; events as `compact_event` makes them."""
        url = "%s/v1.0/users/%s/calendar/calendarView?startDateTime=%s&endDateTime=%s&%s" \
            "&$top=%d" % (self.host, quote(mailbox), clock.format_iso_z(start),
                          clock.format_iso_z(end), VIEW_QUERY, PAGE_SIZE)
        self._collect(url, lambda item: on_event(compact_event(item)))

    def room_lists(self, on_list):
        self._collect(self.host + "/v1.0/places/microsoft.graph.roomlist",
                      lambda item: on_list(_place(item)))

    def rooms_in(self, room_list, on_room):
        self._collect("%s/v1.0/places/%s/microsoft.graph.roomlist/rooms" % (
            self.host, quote(room_list)), lambda item: on_room(_place(item)))

    def schedule(self, addresses, start, end, interval_min, on_schedule):
        """Free/busy of addresses: on_schedule({"address", "view", "error"}) per address;
        `view` is Graph's availabilityView, one digit per interval (0 free ... 4 elsewhere)."""
        body = {"schedules": list(addresses),
                "startTime": {"dateTime": clock.format_iso(start), "timeZone": "UTC"},
                "endTime": {"dateTime": clock.format_iso(end), "timeZone": "UTC"},
                "availabilityViewInterval": interval_min}

        def item(doc):
            err = doc.get("error")
            on_schedule({"address": doc.get("scheduleId"),
                         "view": doc.get("availabilityView"),
                         "error": err.get("responseCode") if isinstance(err, dict) else None})

        r = self._send("POST", self.host + "/v1.0/me/calendar/getSchedule", body, stream=True)
        with r:
            jsonstream.read_items(r, "value", item, max_item=MAX_SCHEDULE_ITEM)

    # -- writes ------------------------------------------------------------------------------

    def create_event(self, mailbox, subject, start, end, body_text=None):
        """Book the room: an event in its calendar; returns it as `compact_event` makes it."""
        doc = {"subject": subject, "start": _when(start), "end": _when(end), "showAs": "busy"}
        if body_text:
            doc["body"] = {"contentType": "text", "content": body_text}
        r = self._send("POST", "%s/v1.0/users/%s/calendar/events" % (self.host, quote(mailbox)),
                       doc)
        return compact_event(_json(r))

    def move_end(self, mailbox, event_id, end):
        """Extend or end early: PATCH the event's end."""
        r = self._send("PATCH", self._event_url(mailbox, event_id), {"end": _when(end)})
        return compact_event(_json(r))

    def decline(self, mailbox, event_id, comment):
        """Release a no-show: the room declines, which tells the organizer."""
        self._send("POST", self._event_url(mailbox, event_id) + "/decline",
                   {"comment": comment, "sendResponse": True}).close()

    def send_mail(self, to, subject, text):
        """A service request from the signed-in account; to = {"address", "name"}."""
        recipient = {"address": to["address"]}
        if to.get("name"):
            recipient["name"] = to["name"]
        self._send("POST", self.host + "/v1.0/me/sendMail", {
            "message": {"subject": subject, "body": {"contentType": "text", "content": text},
                        "toRecipients": [{"emailAddress": recipient}]},
            "saveToSentItems": True}).close()

    # -- plumbing ----------------------------------------------------------------------------

    def _event_url(self, mailbox, event_id):
        return "%s/v1.0/users/%s/events/%s" % (self.host, quote(mailbox), quote(event_id))

    def _collect(self, url, on_item):
        while url:
            r = self._send("GET", url, stream=True)
            with r:
                top = jsonstream.read_items(r, "value", on_item, max_item=MAX_ITEM)
            url = top.get("@odata.nextLink")
            if url is not None and (not isinstance(url, str) or not self._same_origin(url)):
                # The bearer token goes to the configured Graph host and nowhere else.
                raise BackendError("bad_response", "Graph sent a next page on another host")

    def _same_origin(self, url):
        try:
            return split_url(url)[:3] == self._origin
        except ValueError:
            return False

    def _send(self, method, url, body=None, stream=False):
        """The response of a request that worked (2xx); BackendError for any other answer. One
        401 renews the access token, with the claims a claims challenge asks for, and tries
        again (a second is SignInRequired); a short Retry-After is waited out once."""
        renewed = waited = False
        while True:
            headers = {"Authorization": self.auth.bearer(), "Prefer": PREFER_UTC,
                       "Accept": "application/json"}
            r = self.session.request(method, url, json=body, headers=headers, stream=stream)
            status = r.status_code
            if 200 <= status < 300:
                return r
            error = _error(r)  # reads and closes r
            if status == 401:
                if renewed:
                    # A fresh token refused too: the sign-in itself is no good any more.
                    raise SignInRequired(error or "unauthorized", "Graph refused the "
                                         "service account's sign-in even after a refresh")
                renewed = True
                self.auth.renew(claims_challenge(r.headers.get("www-authenticate")))
                continue
            wait = retry_after(r.headers.get("retry-after"), RETRY_AFTER_CAP)
            if status in (429, 503, 504) and not waited and wait is not None \
                    and wait <= INLINE_RETRY_MAX:
                waited = True
                time.sleep(wait)
                continue
            raise _graph_error(status, error, wait)


def _json(r):
    try:
        return r.json()
    except HttpError:
        raise BackendError("bad_response", "Graph sent a damaged answer", r.status_code) from None


def claims_challenge(header):
    """The claims a 401's WWW-Authenticate asks a new token to carry (continuous access
    evaluation: `Bearer realm="", ..., error="insufficient_claims", claims="<base64 JSON>"`),
    as a dict; None for any other 401."""
    if not header or 'error="insufficient_claims"' not in header:
        return None
    start = header.find('claims="')
    end = header.find('"', start + 8)
    if start < 0 or end < 0:
        return None
    try:
        doc = b64_json(header[start + 8:end])
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _error(r):
    """Graph's error code from an error response ({"error": {"code", "message"}}), or None."""
    try:
        doc = r.json()
        code = doc["error"]["code"]
        return code[:60] if isinstance(code, str) else None
    except (HttpError, KeyError, TypeError, ValueError):
        return None
    finally:
        r.close()


def _graph_error(status, code, wait):
    if status == 403:
        return BackendError("forbidden", "the service account lacks rights on this room",
                          status, code)
    if status == 404:
        return BackendError("not_found", "Graph does not know this mailbox or event", status, code)
    if status in (429, 503, 504):
        return BackendError("throttled", "Graph asked the panel to slow down", status, code,
                          wait if wait is not None else 60)
    if status >= 500:
        return BackendError("unavailable", "Graph had a server error (HTTP %d)" % status, status,
                          code, wait if wait is not None else 60)
    return BackendError("rejected", "Graph refused the request (HTTP %d%s)" % (
        status, ", " + code if code else ""), status, code)


def _when(t):
    return {"dateTime": clock.format_iso(t), "timeZone": "UTC"}


def _time(value):
    # {"dateTime": "2026-11-25T09:00:00.0000000", "timeZone": "UTC"}, asked for in UTC
    if not isinstance(value, dict):
        raise BackendError("bad_response", "Graph sent an event without a time")
    zone = value.get("timeZone", "UTC")
    if zone not in ("UTC", "Etc/UTC", "tzone://Microsoft/Utc"):
        raise BackendError("bad_response", "Graph answered in time zone %s, not UTC" % zone[:40])
    try:
        return clock.parse_iso(value["dateTime"])
    except (KeyError, ValueError):
        raise BackendError("bad_response", "Graph sent an event time the panel cannot "
                           "read") from None


def compact_event(doc):
    """What the panel keeps of a Graph event: a few hundred bytes, JSON-serialisable."""
    if not isinstance(doc, dict) or not doc.get("id"):
        raise BackendError("bad_response", "Graph sent an event without an id")
    organizer = doc.get("organizer") or {}
    who = organizer.get("emailAddress") or {}
    return {
        "id": doc["id"],
        "start": _time(doc.get("start")),
        "end": _time(doc.get("end")),
        "subject": doc.get("subject") or "",
        "organizer": who.get("name") or who.get("address") or "",
        "organizer_address": who.get("address") or "",
        "private": doc.get("sensitivity") in ("private", "confidential"),
        "all_day": bool(doc.get("isAllDay")),
        "cancelled": bool(doc.get("isCancelled")),
        "show_as": doc.get("showAs") or "busy",
    }


def _place(doc):
    email = doc.get("emailAddress")
    return {"address": email.lower() if isinstance(email, str) else None,
            "name": doc.get("displayName") or email, "capacity": doc.get("capacity")}
