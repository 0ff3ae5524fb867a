# ruff: noqa: UP031 -- MicroPython code: %-formatting is what it does cheapest
# Speed of app.jsonstream in the Unix-port MicroPython (run it there):
#   MICROPYPATH=firmware .venv/bin/micropython -X heapsize=1M bench/jsonstream_bench.py
# A Graph calendarView page of realistic events (every field, no $select, as
# tests/http_server.py serves it), compact as Graph sends it, about 64 KB; read through
# read_items with a 512-byte chunk. Prints one line per figure.
import gc
import json
import time

from app import jsonstream


def event(i):
    ident = "AAMkAGI2TG93AAA%05d" % i + "x" * 130
    people = [{"type": "required",
               "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
               "emailAddress": {"name": "Person %d-%d" % (i, j),
                                "address": "person%d.%d@contoso.example" % (i, j)}}
              for j in range(3)]
    return {
        "@odata.etag": 'W/"DwAAABYAAADSnd%05dzr8AAA=="' % i, "id": ident,
        "createdDateTime": "2025-02-20T09:12:01.1234567Z",
        "lastModifiedDateTime": "2025-02-21T10:00:00.7654321Z",
        "changeKey": "DwAAABYAAADSnd%05dzr8AAAfBM8kg==" % i, "categories": [],
        "transactionId": None, "originalStartTimeZone": "W. Europe Standard Time",
        "originalEndTimeZone": "W. Europe Standard Time",
        "iCalUId": "040000008200E00074C5B7101A82E008" + "%064d" % i,
        "reminderMinutesBeforeStart": 15, "isReminderOn": True, "hasAttachments": False,
        "subject": "Weekly sync \u00e9quipe %d \"Q3\"" % i,
        "bodyPreview": "Agenda: " + "status, plans, questions. " * 6, "importance": "normal",
        "sensitivity": "normal", "isAllDay": False, "isCancelled": False,
        "isOrganizer": False, "responseRequested": True, "seriesMasterId": None,
        "showAs": "busy", "type": "singleInstance",
        "webLink": "https://outlook.office365.com/owa/?itemid=" + ident + "&exvsurl=1",
        "onlineMeetingUrl": None, "isOnlineMeeting": False, "onlineMeetingProvider": "unknown",
        "allowNewTimeProposals": True, "occurrenceId": None, "isDraft": False,
        "hideAttendees": False,
        "responseStatus": {"response": "accepted", "time": "2025-02-20T09:12:01Z"},
        "body": {"contentType": "html",
                 "content": "<html><body><p class=\"x\">Agenda</p>\r\n</body></html>"},
        "start": {"dateTime": "2025-03-03T%02d:00:00.0000000" % (i % 24), "timeZone": "UTC"},
        "end": {"dateTime": "2025-03-03T%02d:30:00.0000000" % (i % 24), "timeZone": "UTC"},
        "location": {"displayName": "Room 4.01", "locationType": "default",
                     "uniqueId": "Room 4.01", "uniqueIdType": "private"},
        "locations": [{"displayName": "Room 4.01", "locationType": "default",
                       "uniqueId": "Room 4.01", "uniqueIdType": "private"}],
        "recurrence": None, "attendees": people,
        "organizer": {"emailAddress": {"name": "Organizer %d" % i,
                                       "address": "organizer%d@contoso.example" % i}},
        "onlineMeeting": None}


def page(size, separators=(",", ":")):
    comma, colon = separators
    events, total = [], 0
    while total < size - 400:
        text = json.dumps(event(len(events)), separators=separators)
        events.append(text)
        total += len(text) + 1
    return ('{"@odata.context"' + colon + '"https://graph.microsoft.com/v1.0/$metadata#users('
            '\'room\')/calendarView"' + comma + '"value"' + colon + "[" + comma.join(events) +
            "]" + comma + '"@odata.nextLink"' + colon + '"https://graph.microsoft.com/v1.0/'
            'users/room/calendarView?%24skiptoken=abc"}').encode(), len(events)


class Source:
    def __init__(self, body):
        self.body = memoryview(body)
        self.pos = 0

    def readinto(self, buf):
        n = min(len(buf), len(self.body) - self.pos)
        buf[:n] = self.body[self.pos:self.pos + n]
        self.pos += n
        return n


def best_of(runs, fn):
    best = None
    for _ in range(runs):
        gc.collect()
        start = time.ticks_us()
        fn()
        us = time.ticks_diff(time.ticks_us(), start)
        best = us if best is None or us < best else best
    return best


def rate(size, us):
    return "%d us, %d bytes/s" % (us, size * 1000000 // us)


def main():
    body, events = page(65536)
    count = [0]

    def on_item(obj):
        count[0] += 1

    def stream(data, chunk):
        return lambda: jsonstream.read_items(Source(data), "value", on_item, 4096, chunk)

    print("body: %d bytes, %d events (%d bytes each), compact as Graph sends it"
          % (len(body), events, len(body) // events))
    for chunk in (512, 2048):
        print("read_items, %d B chunks: %s" % (chunk, rate(len(body), best_of(7, stream(body,
                                                                                        chunk)))))
    spaced, _ = page(65536, (", ", ": "))
    print("read_items, 512 B chunks, ', ' and ': ' separators (%d bytes): %s"
          % (len(spaced), rate(len(spaced), best_of(7, stream(spaced, 512)))))
    print("json.loads of the whole body (reference): %s"
          % rate(len(body), best_of(7, lambda: json.loads(body))))

    def scan():  # no element is parsed: the scanner alone ("value" is skipped as too long)
        jsonstream.Reader("other", on_item, 4096)._feed(body, len(body))

    print("scanner alone, one %d B feed: %s" % (len(body), rate(len(body), best_of(7, scan))))


main()
