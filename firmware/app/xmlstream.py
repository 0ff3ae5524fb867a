# A bounded streaming XML reader for SOAP answers (docs/xmlstream.md). Exchange's answers can
# be hundreds of kilobytes; the panel never holds one whole: bytes are pushed in as they arrive,
# and the reader hands over each element's start (name, attributes) and end (name, text) as it
# passes. Memory is bounded by the longest tag (max_tag), the text kept per element (max_text:
# more is dropped, the panel shows a line of it at most) and the nesting depth (max_depth),
# whatever the body's length. Names come with the caller's short prefix for their namespace
# URI ("t:Subject"), whatever prefix the server chose. No DTDs (and so no entity expansion
# attacks): the five predefined entities and character references only. Its one input buffer
# is allocated once and reused: a reader that made a new buffer per chunk would scatter the
# answer's survivors (the events) across the heap between dead chunks, and a fragmented
# heap fails later, larger allocations. No I/O here: it runs under CPython too.
from app.http_errors import ProtocolError


class XmlError(ProtocolError):
    reason = "bad_xml"


_TEXT = 0  # between tags
_COMMENT = 1  # inside <!-- -->
_CDATA = 2  # inside <![CDATA[ ]]>
_FAILED = 3  # an error was raised: the reader takes nothing more

_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_MAX_ENTITY = 12  # "&#x10FFFF;" and the named ones fit
_MAX_DECLARATIONS = 16  # namespace declarations in one tag
_XMLNS = "xmlns"
_XMLNS_PREFIX = "xmlns:"
_XML_NS = "http://www.w3.org/XML/1998/namespace"
_BOM = b"\xef\xbb\xbf"
_WHITE = b" \t\r\n"
_NOT_IN_NAMES = b" \t\r\n<>&'\"=/!?;"
_NO_ATTRIBUTES = {}  # shared by every element without attributes: callers only read it


class Reader:
    """Push parser: feed(chunk) any number of times, then close(). on_start(name, attrs) at
    each start tag, on_end(name, text) at each end (an empty element gives both). `name` is
    "short:local" with `names[uri]` as the short prefix ("?" for a namespace not in `names`),
    or just "local" outside any namespace; attrs maps local names to values (namespace
    declarations left out). `text` is the character data since the element's last start or
    child end: a leaf's text, entities decoded, at most max_text bytes of UTF-8."""

    def __init__(self, names, on_start, on_end, max_text=1024, max_tag=2048, max_depth=48,
                 host=None, chunk=512):
        self._names = names
        self._on_start = on_start
        self._on_end = on_end
        self._max_text = max_text
        self._max_tag = max_tag
        self._max_depth = max_depth
        self.host = host
        # Input waits here to be scanned; what is left after a scan (a tag or an entity cut by
        # the chunk's end: at most max_tag bytes) moves to the front.
        self._buf = bytearray(max_tag + chunk)
        self._mv = memoryview(self._buf)
        self._n = 0  # bytes held in _buf
        self._pos = 0  # body bytes before _buf
        self._mode = _TEXT
        self._text = None  # the current element's text (a bytearray once there is some)
        self._cut = False  # the text went past max_text
        self._names_seen = {}  # qualified names as written -> the caller's names (_name)
        # Per open element: (qualified name as written, its own namespace declarations or
        # None); a prefix is looked up from the innermost element out.
        self._stack = []
        self._root = False  # the root element has begun

    def feed(self, data):
        if self._mode == _FAILED:
            raise self._error("the XML reader already failed")
        data = memoryview(data)
        buf, mv = self._buf, self._mv
        off, total = 0, len(data)
        try:
            while off < total:
                n = self._n
                k = min(len(buf) - n, total - off)
                mv[n:n + k] = data[off:off + k]
                n += k
                off += k
                if self._pos == 0 and not self._root and n < 3:
                    self._n = n  # too little to tell a byte order mark yet
                    continue
                if self._pos == 0 and not self._root and buf.startswith(_BOM):
                    mv[0:n - 3] = mv[3:n]  # a byte order mark: UTF-8 says nothing more
                    n -= 3
                    self._pos = 3
                used = self._scan(buf, n)
                if used:
                    mv[0:n - used] = mv[used:n]
                self._pos += used
                self._n = n - used
        except XmlError:
            self._mode = _FAILED
            raise
        except UnicodeError:
            self._mode = _FAILED
            raise self._error("malformed XML near byte %d: text that is not UTF-8"
                              % self._pos) from None

    def close(self):
        """Check that the document ended where it should; XmlError if it was cut short."""
        mode = self._mode
        self._mode = _FAILED
        if mode == _FAILED:
            raise self._error("the XML reader already failed")
        where = self._pos + self._n
        if not self._root:
            raise self._error("the response ended before its XML began (after %d bytes)"
                              % where)
        if self._stack or bytes(self._mv[:self._n]).strip() or mode != _TEXT:
            inside = self._stack[-1][0][:40] if self._stack else "the document"
            raise self._error("the response ended inside %s after %d bytes" % (inside, where))

    # internals -----------------------------------------------------------------------------

    def _error(self, message):
        if self.host:
            message = "the answer from %s: %s" % (self.host, message)
        return XmlError(message, self.host)

    def _bad(self, at, what):
        return self._error("malformed XML at byte %d: %s" % (self._pos + at, what))

    def _scan(self, buf, n):
        """Consume what can be consumed of buf[:n]; the number of bytes used."""
        i = 0
        while i < n:
            mode = self._mode
            if mode == _COMMENT or mode == _CDATA:
                close = b"-->" if mode == _COMMENT else b"]]>"
                j = buf.find(close, i, n)
                end = j if j >= 0 else max(i, n - 2)  # the close may be cut after one byte
                if mode == _CDATA:
                    self._keep(self._mv[i:end])
                if j < 0:
                    return end
                i = j + 3
                self._mode = _TEXT
                continue
            lt = buf.find(b"<", i, n)
            end = n if lt < 0 else lt
            if end > i:
                used = self._chars(buf, i, end, lt < 0)
                if used < end:
                    return used
            if lt < 0:
                return n
            i = self._markup(buf, lt, n)
            if i < 0:
                if n - lt > self._max_tag:
                    raise self._bad(lt, "a tag longer than %d bytes" % self._max_tag)
                return lt
        return i

    def _chars(self, buf, i, end, more):
        """Character data buf[i:end]; where it stops (an entity cut by the chunk's end)."""
        if not self._stack:
            if bytes(self._mv[i:end]).strip():
                raise self._bad(i, "text outside the root element")
            return end
        while i < end:
            amp = buf.find(b"&", i, end)
            if amp < 0:
                self._keep(self._mv[i:end])
                return end
            self._keep(self._mv[i:amp])
            semi = buf.find(b";", amp, min(end, amp + _MAX_ENTITY))
            if semi < 0:
                if more and end - amp < _MAX_ENTITY:
                    return amp  # the rest of the entity is in the next chunk
                raise self._bad(amp, "an '&' that starts no entity")
            self._keep(_entity(buf[amp + 1:semi]).encode())
            i = semi + 1
        return end

    def _keep(self, data):
        text = self._text
        if text is None:
            if not len(data):
                return
            text = self._text = bytearray()
        room = self._max_text - len(text)
        if len(data) > room:
            data = data[:room]
            self._cut = True
        if data:
            text += data

    def _markup(self, buf, lt, n):
        """The markup at buf[lt] ('<'); the index after it, or -1 when it is cut off."""
        if lt + 1 >= n:
            return -1
        c = buf[lt + 1]
        if c == 33:  # '!' (the buffer's bytes past n are stale: look within n only)
            if n - lt >= 4 and buf.startswith(b"<!--", lt):
                self._mode = _COMMENT
                return lt + 4
            if n - lt >= 9 and buf.startswith(b"<![CDATA[", lt):
                if not self._stack:
                    raise self._bad(lt, "CDATA outside the root element")
                self._mode = _CDATA
                return lt + 9
            if n - lt < 9:
                return -1
            raise self._bad(lt, "a DTD or declaration, which the panel does not accept")
        if c == 63:  # '?': the XML declaration or a processing instruction
            j = buf.find(b"?>", lt + 2, n)
            return -1 if j < 0 else j + 2
        gt = _tag_end(buf, lt + 1, n)
        if gt < 0:
            return -1
        if gt - lt > self._max_tag:
            raise self._bad(lt, "a tag longer than %d bytes" % self._max_tag)
        if c == 47:  # '/'
            end = gt
            while buf[end - 1] in _WHITE:  # "</t:Items >"
                end -= 1
            self._end(bytes(self._mv[lt + 2:end]), lt)
        elif buf[gt - 1] == 47:  # '/>'
            self._start(bytes(self._mv[lt + 1:gt - 1]), lt)
            self._end(None, lt)
        else:
            self._start(bytes(self._mv[lt + 1:gt]), lt)
        return gt + 1

    def _start(self, tag, at):
        if not self._stack and self._root:
            raise self._bad(at, "a second root element")
        if len(self._stack) >= self._max_depth:
            raise self._bad(at, "elements nested deeper than %d" % self._max_depth)
        qname, attrs = _split_tag(tag)
        if qname is None:
            raise self._bad(at, "a tag the panel cannot read")
        own = None
        plain = _NO_ATTRIBUTES
        for key, value in attrs:
            value = _unescape(value)
            if key == _XMLNS or key.startswith(_XMLNS_PREFIX):
                if own is None:
                    own = {}
                    self._names_seen = {}  # the bindings change: names resolve anew
                elif len(own) >= _MAX_DECLARATIONS:
                    raise self._bad(at, "more than %d namespace declarations in a tag"
                                    % _MAX_DECLARATIONS)
                own[key[6:]] = value
            else:
                if plain is _NO_ATTRIBUTES:
                    plain = {}
                plain[key[key.find(":") + 1:]] = value
        self._stack.append((qname, own))
        self._root = True
        self._text = None
        self._cut = False
        self._on_start(self._name(qname, at), plain)

    def _end(self, qname, at):
        if not self._stack:
            raise self._bad(at, "an end tag without a start tag")
        opened, own = self._stack[-1]
        if qname is not None and qname != opened:
            raise self._bad(at, "the end tag of another element than <%s>"
                            % opened[:40].decode())
        name = self._name(opened, at)
        self._stack.pop()
        if own is not None:
            self._names_seen = {}
        text, cut = self._text, self._cut
        self._text, self._cut = None, False
        self._on_end(name, "" if text is None else _utf8(text, cut))

    def _name(self, qname, at):
        """The caller's name of the element written `qname` (bytes), "short:local". Resolved
        names are kept until a namespace declaration comes or goes: a SOAP answer has a few
        dozen element names, repeated for every item."""
        name = self._names_seen.get(qname)
        if name is not None:
            return name
        colon = qname.rfind(b":")
        prefix = qname[:colon].decode() if colon >= 0 else ""
        local = qname[colon + 1:].decode()
        uri = None
        for _, own in reversed(self._stack):
            if own is not None and prefix in own:
                uri = own[prefix]
                break
        else:
            if prefix == "xml":
                uri = _XML_NS
            elif prefix:
                raise self._bad(at, "an undeclared namespace prefix")
        name = self._names.get(uri, "?") + ":" + local if uri else local
        self._names_seen[qname] = name
        return name


def _tag_end(buf, i, n):
    """The index of the '>' that ends the tag begun before buf[i], skipping quoted values."""
    while True:
        gt = buf.find(b">", i, n)
        if gt < 0:
            return -1
        dq, sq = buf.find(b'"', i, gt), buf.find(b"'", i, gt)
        if dq < 0 and sq < 0:
            return gt
        q = dq if sq < 0 or 0 <= dq < sq else sq
        close = buf.find(b'"' if q == dq else b"'", q + 1, n)
        if close < 0:
            return -1
        i = close + 1


def _split_tag(tag):
    """(qualified name as bytes, [(attribute name, raw value)] as str) of a start tag's
    inside (bytes); (None, None) if it is not one. Works on byte values: indexing a str
    would make a string object per character."""
    n = len(tag)
    i = 0
    while i < n and tag[i] not in _WHITE:
        i += 1
    qname = tag[:i]
    if not _is_name(qname):
        return None, None
    attrs = []
    while True:
        while i < n and tag[i] in _WHITE:
            i += 1
        if i == n:
            return qname, attrs
        eq = tag.find(b"=", i)
        if eq < 0:
            return None, None
        key = tag[i:eq].strip()
        i = eq + 1
        while i < n and tag[i] in _WHITE:
            i += 1
        if not _is_name(key) or i == n or tag[i] not in b"\"'":
            return None, None
        close = tag.find(b'"' if tag[i] == 34 else b"'", i + 1)
        if close < 0:
            return None, None
        attrs.append((key.decode(), tag[i + 1:close].decode()))
        i = close + 1
        if i < n and tag[i] not in _WHITE:
            return None, None


def _is_name(b):
    if not b or b[0] in b"-.0123456789:" or b[-1] == 58:
        return False
    for c in b:
        if c in _NOT_IN_NAMES:
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
        return str(data, "utf-8")
    except UnicodeError:
        if not cut:
            raise
        for cut in (1, 2, 3):
            try:
                return str(data[:-cut], "utf-8")
            except UnicodeError:
                pass
        raise


def escape(text):
    """Text for an element or an attribute value of a request."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") \
        .replace('"', "&quot;")


def read(source, reader, chunk=512):
    """Feed reader from source.readinto(buf) (0 at the end) and close it; chunk should not
    exceed the reader's."""
    buf = bytearray(chunk)
    view = memoryview(buf)
    while True:
        n = source.readinto(view)
        if not n:
            break
        reader.feed(view[:n])
    reader.close()
