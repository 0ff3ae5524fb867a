# app.jsonstream inside the Unix-port MicroPython: Graph pages streamed element by element,
# every chunking of a document with escapes, UTF-8 and nesting, truncation at every byte,
# malformed documents, the element bound, the top-level members, and the heap it holds.
import gc
import json
import micropython
import random

from app import jsonstream
from app.http_errors import HttpError, JsonError

SECRET = "SECRET-4711"  # body text that no error message may repeat

# Escapes, raw UTF-8 (split by small chunks), \u escapes with a surrogate pair, brackets and
# quotes inside strings, nesting, and whitespace between tokens.
DOC = (b'{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#places",\n'
       b' "value" : [ {"subject":"Caf\xc3\xa9 [draft] {x}","q":"say \\"hi\\" \\\\ back\\\\",'
       b'"u":"\\u00e9\\ud83d\\ude00\\u4e2d\\/","n":[1,-2.5,3e2,0,-0,1E-2,true,false,null,[],{}],'
       b'"emoji":"\xf0\x9f\x98\x80\xe4\xb8\xad","esc":"\\b\\f\\n\\r\\t"},\r\n'
       b'\t"plain" , 12 ,[[["deep"]]],{"a":{"b":{"c":"]}\\"}[{"}}},"SECRET-4711",'
       b'123456789012345678901234567890,-0.5e+3,true,false,null,"",[],{}],\n'
       b'"@odata.nextLink":"https://graph.microsoft.com/v1.0/places?$skiptoken=a%2Fb",'
       b'"@odata.count":7,"flag":false,"none":null,"small":{"k":[1,2]}}')
ITEMS = [
    {"subject": "Caf\u00e9 [draft] {x}", "q": 'say "hi" \\ back\\',
     "u": "\u00e9\U0001f600\u4e2d/", "n": [1, -2.5, 300.0, 0, 0, 0.01, True, False, None, [], {}],
     "emoji": "\U0001f600\u4e2d", "esc": "\b\f\n\r\t"},
    "plain", 12, [[["deep"]]], {"a": {"b": {"c": ']}"}[{'}}}, SECRET,
    123456789012345678901234567890, -500.0, True, False, None, "", [], {}]
TOP = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#places",
       "@odata.nextLink": "https://graph.microsoft.com/v1.0/places?$skiptoken=a%2Fb",
       "@odata.count": 7, "flag": False, "none": None, "small": {"k": [1, 2]}}


class Source:
    # A body behind readinto(buf), `step` bytes at most per call (as a socket would give).
    def __init__(self, body, step=1 << 30, host=None):
        self.body = memoryview(body)
        self.pos = 0
        self.step = step
        if host:
            self.host = host

    def readinto(self, buf):
        n = min(len(buf), self.step, len(self.body) - self.pos)
        buf[:n] = self.body[self.pos:self.pos + n]
        self.pos += n
        return n


def parse(doc, key="value", max_item=4096, sizes=None, kind=bytes):
    # Feed doc in chunks (sizes: one size, or a list used in turn); returns (items, top).
    items = []
    r = jsonstream.Reader(key, items.append, max_item)
    if sizes is None:
        sizes = [len(doc) or 1]
    elif type(sizes) is int:
        sizes = [sizes]
    pos, k = 0, 0
    while pos < len(doc):
        n = sizes[k % len(sizes)]
        k += 1
        piece = doc[pos:pos + n]
        r.feed(memoryview(piece) if kind is memoryview else kind(piece))
        pos += n
    return items, r.close()


def refusal(doc, kind=JsonError, **kw):
    # The error parse(doc) raises; the items handed over before it go to e.items.
    items = []
    r = jsonstream.Reader(kw.pop("key", "value"), items.append, kw.pop("max_item", 4096))
    try:
        r.feed(doc)
        r.close()
    except kind as e:
        e_items = e
        e_items.delivered = items
        check_words(e)
        return e_items
    raise AssertionError("%s was not raised for %r" % (kind.__name__, doc[:60]))


def check_words(e):
    # An HttpError with a reason and one ASCII line that repeats no body text.
    assert isinstance(e, HttpError) and isinstance(e, JsonError), repr(e)
    text = str(e)
    assert text and "\n" not in text, text
    assert all(32 <= ord(ch) < 127 for ch in text), text
    for word in (SECRET, "Caf", "draft", "deep", "skiptoken", "plain", "hello"):
        assert word not in text, text
    assert e.reason in ("bad_json", "item_too_large"), e.reason


def event(i, pad=0):
    # One Graph event as calendarView returns it (trimmed), compact like Graph.
    ident = "AAMkAGI2TG93AAA%05d" % i + "x" * 100
    return {
        "@odata.etag": 'W/"DwAAABYAAADSnd%05d=="' % i, "id": ident,
        "createdDateTime": "2025-02-20T09:12:01.1234567Z", "categories": [],
        "transactionId": None, "reminderMinutesBeforeStart": 15, "isReminderOn": True,
        "subject": "Weekly sync \u00e9quipe %d \"Q3\" [%s]" % (i, SECRET),
        "bodyPreview": "Agenda: " + "status, plans, questions. " * 4 + "x" * pad,
        "isAllDay": False, "isCancelled": False, "showAs": "busy", "type": "singleInstance",
        "webLink": "https://outlook.office365.com/owa/?itemid=" + ident + "&exvsurl=1",
        "responseStatus": {"response": "accepted", "time": "2025-02-20T09:12:01Z"},
        "start": {"dateTime": "2025-03-03T%02d:00:00.0000000" % (i % 24), "timeZone": "UTC"},
        "end": {"dateTime": "2025-03-03T%02d:30:00.0000000" % (i % 24), "timeZone": "UTC"},
        "location": {"displayName": "Room 4.01", "locationType": "default"},
        "attendees": [{"type": "required", "status": {"response": "none"},
                       "emailAddress": {"name": "Person %d-%d" % (i, j),
                                        "address": "person%d.%d@contoso.example" % (i, j)}}
                      for j in range(3)],
        "organizer": {"emailAddress": {"name": "Organizer %d" % i,
                                       "address": "organizer%d@contoso.example" % i}},
        "onlineMeeting": None}


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


def graph_page(events, link_first=False, link="@odata.nextLink"):
    return graph_page_of([compact(e).encode() for e in events], link_first, link)


def graph_page_of(texts, link_first=False, link="@odata.nextLink"):
    # The page around events already serialised (bytes each), in one join: a 64 KB page
    # fits the test's 512 KB heap only if it is not copied again and again.
    context = (b'"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users(\'room\')/'
               b'calendarView"')
    nxt = ('"%s":"https://graph.microsoft.com/v1.0/users/room/calendarView?$skiptoken=x9"'
           % link).encode()
    pieces = [b"{", context, b",", nxt, b"," if link_first else b"", b'"value":[']
    for k, text in enumerate(texts):
        pieces.append(b"," if k else b"")
        pieces.append(text)
    pieces.append(b"]")
    if not link_first:
        pieces[3] = b""
        pieces.append(b",")
        pieces.append(nxt)
    pieces.append(b"}")
    return b"".join(pieces)


def graph_body(size):
    # A page of events of about `size` bytes, built without holding its events as dicts.
    texts, total = [], 200
    gc.collect()
    while total < size:
        texts.append(compact(event(len(texts))).encode())
        total += len(texts[-1]) + 1
    return graph_page_of(texts)


# --- Graph pages ------------------------------------------------------------------------------


def test_graph_page_with_next_link_after_value():
    events = [event(i) for i in range(6)]
    body = graph_page(events)
    items = []
    top = jsonstream.read_items(Source(body, 700), "value", items.append)
    assert items == json.loads(body)["value"] == [json.loads(compact(e)) for e in events]
    assert items[0]["subject"] == "Weekly sync \u00e9quipe 0 \"Q3\" [%s]" % SECRET
    assert top == {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('room')/"
                   "calendarView", "@odata.nextLink": "https://graph.microsoft.com/v1.0/users/"
                   "room/calendarView?$skiptoken=x9"}, top


def test_graph_page_with_next_link_or_delta_link_before_value():
    for link in ("@odata.nextLink", "@odata.deltaLink"):
        events = [event(i) for i in range(4)]
        body = graph_page(events, link_first=True, link=link)
        assert body.index(link.encode()) < body.index(b'"value"')
        items = []
        top = jsonstream.read_items(Source(body), "value", items.append, chunk=100)
        assert items == json.loads(body)["value"]
        assert top[link].endswith("$skiptoken=x9") and "value" not in top, top


def test_read_items_uses_readinto_and_names_the_host():
    # The answer's host goes into the error (a Response has .host), with no body text.
    body = graph_page([event(0)])[:-40]
    try:
        jsonstream.read_items(Source(body, 64, host="graph.microsoft.com"), "value",
                              lambda obj: None)
    except JsonError as e:
        check_words(e)
        assert e.host == "graph.microsoft.com" and "graph.microsoft.com" in str(e), str(e)
        assert "ended inside" in str(e), str(e)
    else:
        raise AssertionError("a truncated body was accepted")


# --- chunking ---------------------------------------------------------------------------------


def test_the_reference_document():
    items, top = parse(DOC)
    assert items == ITEMS, items
    assert top == TOP, top
    assert items[0]["u"] == "\u00e9\U0001f600\u4e2d/"  # the surrogate pair joined


def test_every_chunk_size_gives_the_same_items():
    for size in range(1, len(DOC) + 1):
        assert parse(DOC, sizes=size) == (ITEMS, TOP), size
    for size in (1, 2, 3, 5, 7, 64, 700):
        assert parse(DOC, sizes=size, kind=bytearray) == (ITEMS, TOP), size
        assert parse(DOC, sizes=size, kind=memoryview) == (ITEMS, TOP), size
        items = []
        assert jsonstream.read_items(Source(DOC, size), "value", items.append,
                                     chunk=max(size, 16)) == TOP
        assert items == ITEMS, size
    for chunk in (1, 2, 3, 13, 512):  # read_items' own buffer smaller than what arrives
        items = []
        assert jsonstream.read_items(Source(DOC), "value", items.append, chunk=chunk) == TOP
        assert items == ITEMS, chunk


def test_random_chunkings_give_the_same_items():
    random.seed(7)
    for _ in range(150):
        sizes = [random.randrange(1, 40) for _ in range(random.randrange(1, 8))]
        assert parse(DOC, sizes=sizes) == (ITEMS, TOP), sizes


def test_utf8_split_inside_every_multibyte_sequence():
    text = "\u00e9\u4e2d\U0001f600a\u00fc"
    doc = ('{"value":["%s",{"k":"%s"}],"t":"%s"}' % (text, text, text)).encode()
    for cut in range(1, len(doc)):
        items = []
        r = jsonstream.Reader("value", items.append)
        r.feed(doc[:cut])
        r.feed(doc[cut:])
        assert r.close() == {"t": text}
        assert items == [text, {"k": text}], cut


def test_surrogate_pairs_are_joined_and_lone_surrogates_replaced():
    doc = (b'{"value":["\\ud83d\\ude00","a\\uD83D\\uDE00b","\\ud800","\\udc00x",'
           b'"\\ud800\\u0041","\\\\ud83d\\\\ude00","\\u00e9\\ud83d"],"s":"\\ud83d\\ude00"}')
    for size in (1, 5, len(doc)):
        items, top = parse(doc, sizes=size)
        assert items == ["\U0001f600", "a\U0001f600b", "\ufffd", "\ufffdx", "\ufffdA",
                         "\\ud83d\\ude00", "\u00e9\ufffd"], items
        assert top == {"s": "\U0001f600"}
        assert items[0].encode() == b"\xf0\x9f\x98\x80"  # real UTF-8, not two surrogates


# --- shapes -----------------------------------------------------------------------------------


def test_empty_array_and_no_key_member():
    assert parse(b'{"value":[]}') == ([], {})
    assert parse(b' { "value" : [ ] } \r\n') == ([], {})
    assert parse(b'{}') == ([], {})
    assert parse(b'{"a":1,"b":"x"}') == ([], {"a": 1, "b": "x"})
    assert parse(b'{"value":[1],"value":[2]}') == ([1, 2], {})  # both arrays are read
    assert parse(b'{"rooms":[{"n":1}],"value":3}', key="rooms") == ([{"n": 1}], {"value": 3})
    # only the top-level member is the key array, not a "value" deeper down
    assert parse(b'{"x":{"value":[1]},"value":[{"value":[2,3]},[{"value":[]}]]}', sizes=3) == \
        ([{"value": [2, 3]}, [{"value": []}]], {"x": {"value": [1]}})
    r = jsonstream.Reader("value", lambda obj: None)
    for piece in (b"", b'{"value":[1,2', b"", bytearray(b"]}"), memoryview(b"  ")):
        r.feed(piece)
    assert r.close() == {} and r.count == 2 and r.found
    for doc, found in ((b'{"value":[]}', True), (b'{"error":{"code":"x"}}', False)):
        r = jsonstream.Reader("value", lambda obj: None)
        r.feed(doc)
        r.close()
        assert r.found is found and r.count == 0


def test_key_not_an_array_is_an_error():
    for doc in (b'{"value":{"a":1}}', b'{"value":"[1,2]"}', b'{"value":null}',
                b'{"value":3}', b'{"x":1,"value":true}'):
        e = refusal(doc)
        assert "'value'" in str(e) and "not an array" in str(e), str(e)


def test_top_level_not_an_object_is_an_error():
    for doc in (b'[{"value":[]}]', b'"value"', b'42', b'null', b'-1', b'x'):
        e = refusal(doc)
        assert "not a JSON object" in str(e), str(e)
    assert "before its JSON began" in str(refusal(b""))
    assert "before its JSON began" in str(refusal(b" \r\n\t"))


def test_numbers_literals_and_strings_as_items():
    doc = (b'{"value":[0,-0,1,-1,10,3.25,-0.5,1e3,1E+3,2e-2,-1.5E-1,123456789012345678901234567890,'
           b'true,false,null,"",  "x" ,[],{},[null]]}')
    for size in (1, 2, len(doc)):
        items, top = parse(doc, sizes=size)
        assert items == [0, 0, 1, -1, 10, 3.25, -0.5, 1000.0, 1000.0, 0.02, -0.15,
                         123456789012345678901234567890, True, False, None, "", "x", [], {},
                         [None]], items
        assert type(items[12]) is bool and items[14] is None
    assert parse(b'{"value":[1],"n":-12.5e1,"t":true,"z":0}') == ([1], {"n": -125.0, "t": True,
                                                                       "z": 0})


def test_whitespace_after_the_object_is_allowed_and_anything_else_refused():
    assert parse(DOC + b" \r\n\t ", sizes=3) == (ITEMS, TOP)
    for tail in (b"x", b"}", b",", b" {}", b"\x00", b"\n1"):
        e = refusal(DOC + tail)
        assert "after the end" in str(e) or "control character" in str(e), str(e)
        assert e.delivered == ITEMS


# --- truncation and malformed documents -------------------------------------------------------


def test_truncated_at_every_position_is_an_error_never_a_wrong_result():
    for cut in range(len(DOC)):
        items = []
        r = jsonstream.Reader("value", items.append)
        try:
            r.feed(DOC[:cut])
            r.close()
        except JsonError as e:
            check_words(e)
            assert "ended" in str(e), (cut, str(e))
        else:
            raise AssertionError("a body cut at byte %d was accepted" % cut)
        assert items == ITEMS[:len(items)], cut  # only whole, right elements
    body = graph_page([event(i) for i in range(3)])
    for cut in range(0, len(body), 37):
        items = []
        try:
            jsonstream.read_items(Source(body[:cut], 50), "value", items.append, chunk=64)
        except JsonError as e:
            assert "ended inside" in str(e) or "before its JSON" in str(e), str(e)
        else:
            raise AssertionError("a body cut at byte %d was accepted" % cut)
        assert items == json.loads(body)["value"][:len(items)]


def test_malformed_documents_are_errors():
    cases = (
        b'{"value":[tru]}', b'{"value":[nul]}', b'{"value":[falsy]}', b'{"value":[True]}',
        b'{"value":[truex]}', b'{"value":[NaN]}', b'{"value":[Infinity]}',
        b'{"value":[1 2]}', b'{"value":[{"a":1 "b":2}]}', b'{"value":[1,,2]}', b'{"value":[,1]}',
        b'{"value":[1,]}', b'{"value":[{"a":1,}]}', b'{"a" 1}', b'{"value":[{"a" 1}]}',
        b'{"value":[{"a"::1}]}', b'{"value":[{"a",1}]}', b'{"value":[{1:2}]}',
        b'{"value":[{"a"}]}', b'{"value":[1:2]}', b'{,}', b'{"a":1,}',
        b'{"value":[}', b'{"value":[1}', b'{"value":[{]}', b'{"value":[[1]]]}',
        b'{"value":[1]}}', b'{"a":{"b":1]}', b'{"value":["a"]]',
        b'{"value":[01]}', b'{"value":[1.]}', b'{"value":[.5]}', b'{"value":[-]}',
        b'{"value":[1e]}', b'{"value":[1e+]}', b'{"value":[+1]}', b'{"value":[--1]}',
        b'{"value":[0x1]}', b'{"value":[1.2.3]}', b'{"value":[\'a\']}',
        b'{"value":["a\\x"]}', b'{"value":["\\u12"]}', b'{"value":["\\u12g4"]}',
        b'{"value":["SECRET-4711\\q"]}', b'{"value":["\xff\xfe"]}', b'{"value":["\xc3"]}',
        b'{"value":[a]}', b'{"value":["SECRET-4711" "x"]}', b'{"value":[\x01]}',
        b'{value:[]}', b'{"a":SECRET}',
    )
    for doc in cases:
        for size in (1, len(doc)):
            items = []
            r = jsonstream.Reader("value", items.append)
            try:
                for k in range(0, len(doc), size):
                    r.feed(doc[k:k + size])
                r.close()
            except JsonError as e:
                check_words(e)
            else:
                raise AssertionError("accepted %r" % doc)
    e = refusal(b'{"value":[1,\n  2 3]}')
    assert "at byte 17" in str(e) and "expected ','" in str(e), str(e)
    assert e.delivered == [1, 2]  # a number ends at the space
    e = refusal(b'{"a" 1}')
    assert "expected ':'" in str(e) and "at byte 5" in str(e), str(e)
    assert "'}' closes a '['" in str(refusal(b'{"value":[1}'))


def test_nesting_is_bounded():
    deep = b'{"value":[' + b"[" * 70 + b"]" * 70 + b"]}"
    assert "nested objects and arrays" in str(refusal(deep))
    ok = b'{"value":[' + b"[" * 60 + b"]" * 60 + b"]}"
    items, _ = parse(ok)
    assert len(items) == 1


def test_a_failed_reader_refuses_more():
    r = jsonstream.Reader("value", lambda obj: None)
    try:
        r.feed(b'{"value":[1 2')
    except JsonError:
        pass
    for call in (lambda: r.feed(b"]}"), r.close):
        try:
            call()
        except JsonError as e:
            assert "already failed" in str(e)
        else:
            raise AssertionError("a failed reader went on")


def test_an_error_from_on_item_propagates():
    def on_item(obj):
        if obj == 2:
            raise KeyError("stop")
        seen.append(obj)

    seen = []
    try:
        jsonstream.read_items(Source(b'{"value":[1,2,3]}'), "value", on_item)
    except KeyError:
        pass
    else:
        raise AssertionError("on_item's error was swallowed")
    assert seen == [1]


# --- bounds -----------------------------------------------------------------------------------


def test_item_too_large_after_smaller_items_were_delivered():
    small = [compact(event(i)) for i in range(3)]
    big = compact(event(3, pad=5000))
    body = ('{"value":[%s,%s,%s]}' % (",".join(small), big, small[0])).encode()
    items = []
    try:
        jsonstream.read_items(Source(body, 300), "value", items.append, max_item=4096)
    except jsonstream.ItemTooLarge as e:
        check_words(e)
        assert e.reason == "item_too_large" and isinstance(e, JsonError)
        assert "element 4 of 'value'" in str(e) and "4096" in str(e), str(e)
    else:
        raise AssertionError("ItemTooLarge was not raised")
    assert items == [json.loads(s) for s in small]
    # exactly max_item bytes is allowed, one more is not
    item = '"' + "x" * 14 + '"'  # 16 bytes
    assert parse(('{"value":[%s]}' % item).encode(), max_item=16, sizes=5)[0] == ["x" * 14]
    e = refusal(('{"value":[1,%s]}' % item).encode(), jsonstream.ItemTooLarge, max_item=15)
    assert e.delivered == [1]


def test_top_level_members_small_kept_large_skipped():
    doc = ('{"big":{"list":[' + ",".join('"%s-%d"' % (SECRET, i) for i in range(200)) +
           ']},"small":{"a":[1,{"b":null}]},"value":[{"x":1}],"arr":[' + "7," * 400 +
           '7],"tiny":[],"s":"kept","@odata.nextLink":"https://g/x"}').encode()
    for size in (1, 64, len(doc)):
        items = []
        r = jsonstream.Reader("value", items.append, max_item=256)
        for k in range(0, len(doc), size):
            r.feed(doc[k:k + size])
        top = r.close()
        assert items == [{"x": 1}]
        assert top == {"small": {"a": [1, {"b": None}]}, "tiny": [], "s": "kept",
                       "@odata.nextLink": "https://g/x"}, top
        assert r.skipped == ["big", "arr"] and r.count == 1
    # skipped, but still checked
    assert "expected" in str(refusal(b'{"big":[' + b"1," * 300 + b'1 2]}', max_item=64))
    # a top-level string too long to keep is an error, not silently dropped (a nextLink!)
    e = refusal(b'{"value":[],"@odata.nextLink":"https://' + b"x" * 300 + b'"}',
                jsonstream.ItemTooLarge, max_item=256)
    assert "top-level member" in str(e), str(e)


def test_peak_heap_does_not_grow_with_the_body():
    # Live heap at every element (collected first), for an 8 KB and a 64 KB page: the reader
    # holds one element, not the body. The body itself is allocated before the baseline.
    def peak(size):
        body = graph_body(size)
        source = Source(body)
        low = [1 << 30]
        count = [0]

        def on_item(obj):
            count[0] += 1
            gc.collect()
            low[0] = min(low[0], gc.mem_free())

        gc.collect()
        start = gc.mem_free()
        top = jsonstream.read_items(source, "value", on_item, 4096, 512)
        gc.collect()
        after = start - gc.mem_free()
        assert "@odata.nextLink" in top
        return len(body), count[0], start - low[0], after

    small = peak(8 * 1024)
    large = peak(64 * 1024)
    print("jsonstream heap: %d B body, %d items: peak %d B; %d B body, %d items: peak %d B"
          % (small[0], small[1], small[2], large[0], large[1], large[2]))
    assert large[0] > 7 * small[0] and large[1] > 7 * small[1]
    assert large[2] <= small[2] + 512, (small, large)
    assert large[2] < 16 * 1024, large  # 4 KB element buffer + 512 B chunk + one event
    assert large[3] == small[3] < 1024, (small, large)  # the top dict; nothing else is kept


def test_scanning_allocates_nothing_per_byte():
    # Past the element bound a skipped member is only scanned: with the heap locked, 60 KB of
    # objects, arrays, strings with escapes, numbers and literals go through without a single
    # allocation (a chunk costs none either: the scanner's frame falls back to the C stack).
    piece = (b'{"a":"' + b"x" * 300 + b'","b\\"":[1,-2.5e3,true,false,null,{"c":"\\u00e9\\"]"}]'
             b', "d" : [ ] },')
    chunks = [b'{"skip":[' + piece * 2]
    chunks += [piece * 3 for _ in range(60)]
    chunks += [b'0],"value":[1]}']
    r = jsonstream.Reader("value", lambda obj: None, max_item=512)
    r.feed(chunks[0])
    middle = chunks[1:-1]
    gc.collect()
    micropython.heap_lock()
    try:
        for chunk in middle:
            r.feed(chunk)
    finally:
        micropython.heap_unlock()
    r.feed(chunks[-1])
    assert r.close() == {} and r.skipped == ["skip"] and r.count == 1
