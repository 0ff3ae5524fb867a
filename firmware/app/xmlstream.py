# A bounded streaming XML reader for SOAP answers (docs/xmlstream.md). Exchange's answers can
# be hundreds of kilobytes; the panel never holds one whole: bytes are pushed in as they arrive,
# and the reader hands over each element's start (name, attributes) and end (name, text) as it
# passes. Memory is bounded by the longest tag (max_tag), the text kept per element (max_text:
# more is dropped, the panel shows a line of it at most) and the nesting depth (max_depth),
# whatever the body's length. Names come with the caller's short prefix for their namespace
# URI ("t:Subject"), whatever prefix the server chose. No DTDs (and so no entity expansion
# attacks): the five predefined entities and character references only. No I/O here: it runs
# under CPython too.
from app.http_errors import ProtocolError


class XmlError(ProtocolError):
    reason = "bad_xml"


_TEXT = 0  # between tags
_COMMENT = 1  # inside <!-- -->
_CDATA = 2  # inside <![CDATA[ ]]>
_FAILED = 3  # an error was raised: the reader takes nothing more

_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_MAX_ENTITY = 12  # "&#x10FFFF;" and the named ones fit
_XMLNS = "xmlns"


class Reader:
    """Push parser: feed(chunk) any number of times, then close(). on_start(name, attrs) at
    each start tag, on_end(name, text) at each end (an empty element gives both). `name` is
    "short:local" with `names[uri]` as the short prefix ("?" for a namespace not in `names`),
    or just "local" outside any namespace; attrs maps local names to values (namespace
    declarations left out). `text` is the character data since the element's last start or
    child end: a leaf's text, entities decoded, at most max_text bytes of UTF-8."""

    def __init__(self, names, on_start, on_end, max_text=1024, max_tag=2048, max_depth=48,
                 host=None):
        self._names = names
        self._on_start = on_start
        self._on_end = on_end
        self._max_text = max_text
        self._max_tag = max_tag
        self._max_depth = max_depth
        self.host = host
        self._buf = b""  # what is not consumed yet: a tag or entity cut by the chunk's end
        self._pos = 0  # body bytes before _buf
        self._mode = _TEXT
        self._text = bytearray()
        self._cut = False  # the text went past max_text
        self._stack = []  # (qualified name as written, namespace map) per open element
        self._ns = {"xml": "http://www.w3.org/XML/1998/namespace"}
        self._root = False  # the root element has begun

    def feed(self, data):
        if self._mode == _FAILED:
            raise self._error("the XML reader already failed")
        buf = self._buf + data if self._buf else bytes(data)
        try:
            used = self._scan(buf)
        except XmlError:
            self._mode = _FAILED
            raise
        except (UnicodeError, ValueError):
            self._mode = _FAILED
            raise self._error("malformed XML near byte %d: text that is not UTF-8"
                              % self._pos) from None
        self._pos += used
        self._buf = buf[used:]

    def close(self):
        """Check that the document ended where it should; XmlError if it was cut short."""
        mode = self._mode
        self._mode = _FAILED
        if mode == _FAILED:
            raise self._error("the XML reader already failed")
        where = self._pos + len(self._buf)
        if not self._root:
            raise self._error("the response ended before its XML began (after %d bytes)"
                              % where)
        if self._stack or self._buf.strip() or mode != _TEXT:
            inside = self._stack[-1][0] if self._stack else "the document"
            raise self._error("the response ended inside %s after %d bytes" % (inside, where))

    # internals -----------------------------------------------------------------------------

    def _error(self, message):
        if self.host:
            message = "the answer from %s: %s" % (self.host, message)
        return XmlError(message, self.host)

    def _bad(self, at, what):
        return self._error("malformed XML at byte %d: %s" % (self._pos + at, what))

    def _scan(self, buf):
        """Consume what can be consumed of buf; the number of bytes used."""
        i, n = 0, len(buf)
        while i < n:
            mode = self._mode
            if mode == _COMMENT or mode == _CDATA:
                close = b"-->" if mode == _COMMENT else b"]]>"
                j = buf.find(close, i)
                end = j if j >= 0 else max(i, n - 2)  # the close may be cut after one byte
                if mode == _CDATA:
                    self._keep(buf[i:end])
                if j < 0:
                    return end
                i = j + 3
                self._mode = _TEXT
                continue
            lt = buf.find(b"<", i)
            end = n if lt < 0 else lt
            if end > i:
                used = self._chars(buf, i, end, lt < 0)
                if used < end:
                    return used
            if lt < 0:
                return n
            i = self._markup(buf, lt)
            if i < 0:
                if n - lt > self._max_tag:
                    raise self._bad(lt, "a tag longer than %d bytes" % self._max_tag)
                return lt
        return i

    def _chars(self, buf, i, end, more):
        """Character data buf[i:end]; where it stops (an entity cut by the chunk's end)."""
        if not self._stack:
            if buf[i:end].strip():
                raise self._bad(i, "text outside the root element")
            return end
        while i < end:
            amp = buf.find(b"&", i, end)
            if amp < 0:
                self._keep(buf[i:end])
                return end
            self._keep(buf[i:amp])
            semi = buf.find(b";", amp, min(end, amp + _MAX_ENTITY))
            if semi < 0:
                if more and end - amp < _MAX_ENTITY:
                    return amp  # the rest of the entity is in the next chunk
                raise self._bad(amp, "an '&' that starts no entity")
            self._keep(_entity(buf[amp + 1:semi]).encode())
            i = semi + 1
        return end

    def _keep(self, data):
        room = self._max_text - len(self._text)
        if len(data) > room:
            data = data[:room]
            self._cut = True
        if data:
            self._text += data

    def _markup(self, buf, lt):
        """The markup at buf[lt] ('<'); the index after it, or -1 when it is cut off."""
        n = len(buf)
        if lt + 1 >= n:
            return -1
        c = buf[lt + 1]
        if c == 33:  # '!'
            if buf.startswith(b"<!--", lt):
                self._mode = _COMMENT
                return lt + 4
            if buf.startswith(b"<![CDATA[", lt):
                if not self._stack:
                    raise self._bad(lt, "CDATA outside the root element")
                self._mode = _CDATA
                return lt + 9
            if n - lt < 9:
                return -1
            raise self._bad(lt, "a DTD or declaration, which the panel does not accept")
        if c == 63:  # '?': the XML declaration or a processing instruction
            j = buf.find(b"?>", lt + 2)
            return -1 if j < 0 else j + 2
        gt = _tag_end(buf, lt + 1)
        if gt < 0:
            return -1
        tag = bytes(buf[lt + 1:gt]).decode()
        if c == 47:  # '/'
            self._end(tag[1:].strip(), lt)
        elif tag.endswith("/"):
            self._start(tag[:-1], lt)
            self._end(None, lt)
        else:
            self._start(tag, lt)
        return gt + 1

    def _start(self, tag, at):
        if not self._stack and self._root:
            raise self._bad(at, "a second root element")
        if len(self._stack) >= self._max_depth:
            raise self._bad(at, "elements nested deeper than %d" % self._max_depth)
        qname, attrs = _split_tag(tag)
        if qname is None:
            raise self._bad(at, "a tag the panel cannot read")
        ns = self._ns
        plain = {}
        for key, value in attrs:
            value = _unescape(value)
            if key == _XMLNS or key.startswith(_XMLNS + ":"):
                if ns is self._ns:
                    ns = dict(ns)
                ns[key[6:]] = value
            else:
                plain[key[key.find(":") + 1:]] = value
        self._stack.append((qname, self._ns))
        self._ns = ns
        self._root = True
        self._text = bytearray()
        self._cut = False
        self._on_start(self._name(qname, at), plain)

    def _end(self, qname, at):
        if not self._stack:
            raise self._bad(at, "an end tag without a start tag")
        opened, parent_ns = self._stack[-1]
        if qname is not None and qname != opened:
            raise self._bad(at, "the end tag of another element than <%s>" % opened[:40])
        name = self._name(opened, at)
        self._stack.pop()
        text, cut = self._text, self._cut
        self._text, self._cut = bytearray(), False
        self._ns = parent_ns
        self._on_end(name, _utf8(text, cut))

    def _name(self, qname, at):
        prefix, _, local = qname.rpartition(":")
        uri = self._ns.get(prefix)
        if uri is None and prefix:
            raise self._bad(at, "an undeclared namespace prefix")
        if not uri:
            return local
        return self._names.get(uri, "?") + ":" + local


def _tag_end(buf, i):
    """The index of the '>' that ends the tag begun before buf[i], skipping quoted values."""
    while True:
        gt = buf.find(b">", i)
        if gt < 0:
            return -1
        dq, sq = buf.find(b'"', i, gt), buf.find(b"'", i, gt)
        if dq < 0 and sq < 0:
            return gt
        q = dq if sq < 0 or 0 <= dq < sq else sq
        close = buf.find(buf[q:q + 1], q + 1)
        if close < 0:
            return -1
        i = close + 1


def _split_tag(tag):
    """(qualified name, [(attribute name, raw value)]) of a start tag's inside; (None, None)
    if it is not one."""
    n = len(tag)
    i = 0
    while i < n and tag[i] not in " \t\r\n":
        i += 1
    qname = tag[:i]
    if not _is_name(qname):
        return None, None
    attrs = []
    while True:
        while i < n and tag[i] in " \t\r\n":
            i += 1
        if i == n:
            return qname, attrs
        eq = tag.find("=", i)
        if eq < 0:
            return None, None
        key = tag[i:eq].strip()
        i = eq + 1
        while i < n and tag[i] in " \t\r\n":
            i += 1
        if not _is_name(key) or i == n or tag[i] not in "\"'":
            return None, None
        close = tag.find(tag[i], i + 1)
        if close < 0:
            return None, None
        attrs.append((key, tag[i + 1:close]))
        i = close + 1
        if i < n and tag[i] not in " \t\r\n":
            return None, None


def _is_name(s):
    if not s or s[0] in "-.0123456789:" or s[-1] == ":":
        return False
    for c in s:
        if c in " \t\r\n<>&'\"=/!?;":
            return False
    return True


def _entity(ref):
    """The text of an entity reference's inside ("amp", "#233", "#xE9")."""
    ref = bytes(ref).decode()
    if ref.startswith("#"):
        try:
            code = int(ref[2:], 16) if ref[1:2] in ("x", "X") else int(ref[1:])
        except ValueError:
            raise XmlError("malformed XML: a character reference that is not a number") \
                from None
        if not (code in (9, 10, 13) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
                or 0x10000 <= code <= 0x10FFFF):
            raise XmlError("malformed XML: a character reference to no allowed character")
        return chr(code)
    text = _ENTITIES.get(ref)
    if text is None:
        raise XmlError("malformed XML: an entity other than the five XML predefines")
    return text


def _unescape(value):
    """An attribute value as XML reads it: white space as written becomes spaces (XML 1.0,
    3.3.3), then the entities are decoded."""
    for ws in ("\r\n", "\t", "\n", "\r"):
        if ws in value:
            value = value.replace(ws, " ")
    if "&" not in value:
        return value
    out = []
    i = 0
    while True:
        amp = value.find("&", i)
        if amp < 0:
            out.append(value[i:])
            return "".join(out)
        semi = value.find(";", amp, amp + _MAX_ENTITY)
        if semi < 0:
            raise XmlError("malformed XML: an '&' that starts no entity in an attribute")
        out.append(value[i:amp])
        out.append(_entity(value[amp + 1:semi].encode()))
        i = semi + 1


def _utf8(data, cut):
    """Kept text as str; text cut at max_text may end inside a character: drop that part."""
    try:
        return bytes(data).decode()
    except UnicodeError:
        if not cut:
            raise
        for cut in (1, 2, 3):
            try:
                return bytes(data[:-cut]).decode()
            except UnicodeError:
                pass
        raise


def escape(text):
    """Text for an element or an attribute value of a request."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace('"', "&quot;")


def read(source, reader, chunk=512):
    """Feed reader from source.readinto(buf) (0 at the end) and close it."""
    buf = bytearray(chunk)
    view = memoryview(buf)
    while True:
        n = source.readinto(view)
        if not n:
            break
        reader.feed(view[:n])
    reader.close()
