# app.xmlstream inside the Unix-port MicroPython: an EWS answer read at every chunking, cut at
# every byte, mutated at random, nested too deep, with huge text and comment nodes, DTDs and
# bad entities; every failure an XmlError with words, and the memory it holds bounded.
import gc
import random

from app import xmlstream
from app.http_errors import HttpError
from app.xmlstream import XmlError

SECRET = "SECRET-4711"  # document text that no error message may repeat
NAMES = {"http://schemas.xmlsoap.org/soap/envelope/": "s",
         "http://schemas.microsoft.com/exchange/services/2006/messages": "m",
         "http://schemas.microsoft.com/exchange/services/2006/types": "t"}

# Exchange's shape (FindItem), with the prefixes another server might choose (the types
# namespace as the default one inside an item), entities, a character reference beyond the
# BMP, raw UTF-8, CDATA, a comment, a processing instruction and a '>' in an attribute.
DOC = ('<?xml version="1.0" encoding="utf-8"?>\r\n'
       '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
       '<soap:Header><h:ServerVersionInfo MajorVersion="15" xmlns:h="http://schemas.microsoft.'
       'com/exchange/services/2006/types"/></soap:Header><soap:Body>'
       '<FindItemResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">'
       '<ResponseMessages><FindItemResponseMessage ResponseClass="Success">'
       '<ResponseCode>NoError</ResponseCode><RootFolder IncludesLastItemInRange="true">'
       '<Items xmlns="http://schemas.microsoft.com/exchange/services/2006/types">'
       '<CalendarItem><ItemId Id="AAMk&amp;x=&quot;1&quot;&gt;" ChangeKey=\'DwAA"\'/>'
       '<Subject>Caf\u00e9 &lt;Q4&gt; &amp; &#233;&#x1F600;\u4e2d</Subject>'
       '<!-- a comment with <tags> & ampersands -->'
       '<Body><![CDATA[<b>kept as written &amp;</b>]]></Body>'
       '<?pi whatever?><Start>2026-11-25T09:00:00Z</Start><Empty></Empty>'
       '<Note xml:lang="en">' + SECRET + '</Note></CalendarItem></Items></RootFolder>'
       '</FindItemResponseMessage></ResponseMessages></FindItemResponse>'
       '</soap:Body></soap:Envelope>\n').encode()
EVENTS = [
    ("s", "s:Envelope", {}), ("s", "s:Header", {}),
    ("s", "t:ServerVersionInfo", {"MajorVersion": "15"}), ("e", "t:ServerVersionInfo", ""),
    ("e", "s:Header", ""), ("s", "s:Body", {}), ("s", "m:FindItemResponse", {}),
    ("s", "m:ResponseMessages", {}),
    ("s", "m:FindItemResponseMessage", {"ResponseClass": "Success"}),
    ("s", "m:ResponseCode", {}), ("e", "m:ResponseCode", "NoError"),
    ("s", "m:RootFolder", {"IncludesLastItemInRange": "true"}), ("s", "t:Items", {}),
    ("s", "t:CalendarItem", {}),
    ("s", "t:ItemId", {"Id": 'AAMk&x="1">', "ChangeKey": 'DwAA"'}), ("e", "t:ItemId", ""),
    ("s", "t:Subject", {}), ("e", "t:Subject", "Caf\u00e9 <Q4> & \u00e9\U0001f600\u4e2d"),
    ("s", "t:Body", {}), ("e", "t:Body", "<b>kept as written &amp;</b>"),
    ("s", "t:Start", {}), ("e", "t:Start", "2026-11-25T09:00:00Z"),
    ("s", "t:Empty", {}), ("e", "t:Empty", ""),
    ("s", "t:Note", {"lang": "en"}), ("e", "t:Note", SECRET),
    ("e", "t:CalendarItem", ""), ("e", "t:Items", ""), ("e", "m:RootFolder", ""),
    ("e", "m:FindItemResponseMessage", ""), ("e", "m:ResponseMessages", ""),
    ("e", "m:FindItemResponse", ""), ("e", "s:Body", ""), ("e", "s:Envelope", "")]


def read(doc, step=1 << 30, names=NAMES, **kw):
    events = []
    r = xmlstream.Reader(names, lambda n, a: events.append(("s", n, a)),
                         lambda n, t: events.append(("e", n, t)), **kw)
    view = memoryview(doc)
    for i in range(0, len(doc), step):
        r.feed(view[i:i + step])
    r.close()
    return events


def fails(doc, *words, **kw):
    try:
        read(doc, **kw)
    except XmlError as e:
        text = str(e)
        assert SECRET not in text, text
        for w in words:
            assert w in text, (w, text)
        assert isinstance(e, HttpError) and e.reason == "bad_xml"
        return text
    raise AssertionError("no XmlError for %r" % doc[:80])


def test_every_chunking_gives_the_same_events():
    for step in (1, 2, 3, 5, 7, 13, 64, 512, len(DOC)):
        got = read(DOC, step)
        assert got == EVENTS, (step, [e for e in got if e not in EVENTS][:2])


def test_cut_at_every_byte_is_an_error_with_words():
    # Only the trailing newline after the root may go.
    for n in range(len(DOC) - 1):
        text = fails(DOC[:n], "ended")
        assert ("after %d bytes" % n) in text or "began" in text, text
    assert read(DOC[:-1]) == EVENTS


def test_random_mutations_raise_only_xml_errors():
    random.seed(4711)
    rnd = random
    alphabet = b'<>&;/="\'!?-[]x:\xc3\xa9\x00 '
    for _ in range(600):
        doc = bytearray(DOC)
        for _ in range(rnd.randrange(1, 4)):
            at = rnd.randrange(len(doc))
            how = rnd.randrange(3)
            if how == 0:
                doc[at] = alphabet[rnd.randrange(len(alphabet))]
            elif how == 1:
                doc = doc[:at] + doc[at + 1:]
            else:
                doc = doc[:at] + bytes([alphabet[rnd.randrange(len(alphabet))]]) + doc[at:]
        try:
            read(bytes(doc), rnd.choice((1, 7, 512)))
        except XmlError as e:
            assert SECRET not in str(e)


def test_malformed_documents_say_what_is_wrong():
    fails(b"", "before its XML began")
    fails(b"   \n", "before its XML began")
    fails(b"<a></b>", "end tag of another element")
    fails(b"<a><b></a></b>", "end tag of another element")
    fails(b"</a>", "end tag without a start tag")
    fails(b"<a/><b/>", "a second root element")
    fails(b"text<a/>", "text outside the root element")
    fails(b"<a/>text", "text outside the root element")
    fails(b"<p:a/>", "undeclared namespace prefix")
    fails(b'<a x="1" y>', "a tag the panel cannot read")
    fails(b'<a x=1/>', "a tag the panel cannot read")
    fails(b"<a>&bogus;</a>", "entity other than")
    fails(b"<a>&#0;</a>", "no allowed character")
    fails(b"<a>&#xD800;</a>", "no allowed character")
    fails(b"<a>&#12a;</a>", "not a number")
    fails(b"<a>AT&T and more text</a>", "starts no entity")
    fails(b'<a x="&unknown;"/>', "entity other than")
    fails(b"<a>caf\xe9</a>", "not UTF-8")
    fails(b"<a><!-- never closed", "ended inside")
    fails(b"<a><![CDATA[ never closed", "ended inside")


def test_a_dtd_is_refused():
    # The "billion laughs": no entity is ever expanded, the DTD itself is refused.
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
            b'"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>')
    for step in (1, 4, 512):
        fails(bomb, "DTD", step=step)


def test_deep_nesting_is_bounded():
    deep = b"<a>" * 49 + b"</a>" * 49
    fails(deep, "nested deeper than 48")
    assert len(read(b"<a>" * 48 + b"</a>" * 48)) == 96
    fails(b"<a>" * 10 + b"</a>" * 10, "nested deeper than 8", max_depth=8)


def test_huge_text_and_comments_hold_bounded_memory():
    # 0.6 MB of text and comment, fed in pieces as a socket gives them (the test's heap could
    # not hold the document whole).
    pieces = [b"<a><t>"] + [b"x&amp;" * 85] * 400 + [b"</t><!--"] + [b"-" * 510] * 400 + \
        [b"--><u>"] + [b"\xc3\xa9" * 255] * 400 + [b"</u></a>"]
    gc.collect()
    before = gc.mem_alloc()
    peak = [0]
    seen = []

    def watch(name, text):
        seen.append(name)
        if name == "t":
            assert len(text) == 101 and text.startswith("x&x&"), text[:10]
        if name == "u":
            assert text == "\u00e9" * 50, text  # cut at a character, not inside one

    r = xmlstream.Reader({}, lambda n, a: None, watch, max_text=101)
    for piece in pieces:
        r.feed(piece)
        gc.collect()
        peak[0] = max(peak[0], gc.mem_alloc() - before)
    r.close()
    assert seen == ["t", "u", "a"], seen
    # What the reader holds between pieces stays within a piece or two.
    assert peak[0] < 4096, peak[0]


def test_a_tag_longer_than_the_bound_is_refused():
    long_tag = b'<a x="' + b"y" * 5000 + b'"/>'
    fails(long_tag, "a tag longer than 2048 bytes", step=100)
    fails(long_tag, "a tag longer than 2048 bytes")  # whole in one chunk, too
    assert read(long_tag, step=100, max_tag=8192)[0][2]["x"] == "y" * 5000


def test_a_byte_order_mark_is_skipped():
    for step in (1, 2, 512):
        assert read(b"\xef\xbb\xbf<a>x</a>", step) == [("s", "a", {}), ("e", "a", "x")]


def test_namespace_declarations_are_bounded():
    many = "".join(' xmlns:p%d="urn:%d"' % (i, i) for i in range(17))
    fails(("<a%s/>" % many).encode(), "more than 16 namespace declarations")
    # Each element keeps its own declarations only: deep nesting with some in every tag
    # costs depth times declarations, not their square.
    some = "".join(' xmlns:p%d="urn:%d"' % (i, i) for i in range(16))
    deep = ("<p3:a%s>" % some) * 48 + "</p3:a>" * 48
    got = read(deep.encode(), names={"urn:3": "x"})
    assert got[0] == ("s", "x:a", {}) and len(got) == 96


def test_unknown_namespaces_and_no_namespace():
    got = read(b'<r xmlns:x="urn:other"><x:a/><b xmlns=""/></r>')
    assert [e[1] for e in got if e[0] == "s"] == ["r", "?:a", "b"], got


def test_the_reader_refuses_more_after_an_error():
    r = xmlstream.Reader({}, lambda n, a: None, lambda n, t: None)
    try:
        r.feed(b"<a></b>")
    except XmlError:
        pass
    for call in (lambda: r.feed(b"<a/>"), r.close):
        try:
            call()
        except XmlError as e:
            assert "already failed" in str(e)
        else:
            raise AssertionError("a failed reader went on")


def test_errors_name_the_host():
    try:
        r = xmlstream.Reader({}, lambda n, a: None, lambda n, t: None, host="mail.example")
        r.feed(b"<a>")
        r.close()
    except XmlError as e:
        assert str(e).startswith("the answer from mail.example:"), str(e)
        assert e.host == "mail.example"
    else:
        raise AssertionError("no error")


def test_escape_round_trips():
    text = 'a < b & "c" > d \u00e9'
    got = read(("<a v=\"%s\">%s</a>" % (xmlstream.escape(text), xmlstream.escape(text))).encode())
    assert got == [("s", "a", {"v": text}), ("e", "a", text)], got
