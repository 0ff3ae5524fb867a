# A bounded streaming reader for JSON collection answers (docs/jsonstream.md). Microsoft Graph
# pages look like {"@odata.context": ..., "value": [{...}, {...}], "@odata.nextLink": ...}:
# the elements of one top-level array are handed over one at a time, each parsed by json.loads
# from its own bytes, so a body of any length costs one element's buffer. The scanner checks
# the whole grammar itself (MicroPython's json.loads ignores missing commas and colons) and
# jumps through strings with bytes.find. No I/O here: it runs under CPython too.
import json
import sys

from app.http_errors import JsonError

try:
    from micropython import const
except ImportError:  # CPython (the property tests)
    def const(x):
        return x


class ItemTooLarge(JsonError):
    # One element (or a top-level string, number or member name) is longer than max_item.
    reason = "item_too_large"


# What the scanner expects next.
_VAL = const(0)  # a value (after ':' or after ',' in an array)
_VAL1 = const(1)  # a value or ']' (just after '[')
_KEY = const(2)  # a member name (after ',' in an object)
_KEY1 = const(3)  # a member name or '}' (just after '{')
_COLON = const(4)
_NEXT = const(5)  # ',' or the close of the container (after a value)
_STR = const(6)  # inside a string
_NUM = const(7)  # inside a number (the number states are below)
_LIT = const(8)  # inside true / false / null
_START = const(9)  # before the top-level object
_END = const(10)  # after the top-level object: only whitespace may follow
_FAIL = const(11)  # an error was raised: the reader takes nothing more

# What the element buffer is collecting.
_K_ITEM = const(0)  # an element of the key array
_K_NAME = const(1)  # a top-level member name
_K_SCALAR = const(2)  # a top-level string, number or literal: kept, or ItemTooLarge
_K_NESTED = const(3)  # a top-level object or array: kept, or skipped when too long

_MAX_DEPTH = const(64)

# Number states: 1 after '-', 2 a leading 0, 3 integer digits, 4 after '.', 5 fraction digits,
# 6 after 'e', 7 after the exponent's sign, 8 exponent digits. 2, 3, 5 and 8 may end a number.

if sys.implementation.name == "micropython":
    def _loads(view, n):
        return json.loads(view[:n])  # reads the buffer in place
else:
    def _loads(view, n):
        return json.loads(bytes(view[:n]).decode("utf-8"))

_STRUCTURAL = b'{}[],:"'
_ESCAPES = b'"\\/bfnrt'  # what may follow a '\' (besides u)
_HEX = bytes(1 if 48 <= c <= 57 or 65 <= c <= 70 or 97 <= c <= 102 else 0 for c in range(256))


def _fix_surrogates(buf, n):
    # MicroPython's json turns "\ud83d\ude00" into two 3-byte sequences that are not UTF-8.
    # Rewrite each \u surrogate pair in place as the 4 UTF-8 bytes of its character (a lone
    # surrogate as U+FFFD) before parsing. Returns the new length; a rare path.
    if buf.find(b"\\ud", 0, n) < 0 and buf.find(b"\\uD", 0, n) < 0:
        return n
    r = w = 0  # the next byte to keep, and where it goes
    p = buf.find(b"\\", 0, n)
    while p >= 0:
        if buf[p + 1] != 117:  # a two-character escape
            p = buf.find(b"\\", p + 2, n)
            continue
        after = p + 6
        cp = int(bytes(buf[p + 2:after]), 16)
        if 0xD800 <= cp <= 0xDFFF:
            low = 0
            if cp < 0xDC00 and after + 6 <= n and buf[after] == 92 and buf[after + 1] == 117:
                low = int(bytes(buf[after + 2:after + 6]), 16)
            if 0xDC00 <= low <= 0xDFFF:
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
                after += 6
            else:
                cp = 0xFFFD
            if w != r:
                buf[w:w + p - r] = buf[r:p]
            w += p - r
            utf8 = chr(cp).encode()
            buf[w:w + len(utf8)] = utf8
            w += len(utf8)
            r = after
        p = buf.find(b"\\", after, n)
    if w != r:
        buf[w:w + n - r] = buf[r:n]
    return w + n - r


class Reader:
    """Push parser: feed(chunk) any number of times, then close() for the top-level members
    other than `key`. on_item(obj) is called once per element of the top-level array `key`,
    in order. Elements longer than max_item bytes raise ItemTooLarge; top-level objects and
    arrays longer than that are skipped (their names listed in `skipped`). `count` is the
    number of elements handed over; `found` is True once the key array has begun (an empty
    array and no key member give the same dict). After any error the reader refuses more
    input."""

    def __init__(self, key, on_item, max_item=4096, host=None):
        self._key = key
        self._on_item = on_item
        self._max = max_item
        self.host = host
        self._buf = bytearray(max_item)
        self._mv = memoryview(self._buf)
        self._stk = bytearray(_MAX_DEPTH)  # the open containers: 123 '{' or 91 '['
        self._scratch = None  # for memoryview chunks (they have no find())
        self._top = {}
        self.skipped = []
        self.count = 0
        self.found = False
        self._pos = 0  # body bytes before the current chunk
        self._st = _START
        self._depth = 0
        self._capd = -1  # the depth at which the collected value sits, -1: collecting nothing
        self._items = False  # inside the key array
        self._after = _NEXT  # the state after the current string
        self._esc = 0  # in a string: 1 after '\', -4..-1 hex digits of \u still to come
        self._num = 0
        self._lit = b""
        self._lpos = 0
        self._name = None  # the last top-level member name
        self._kind = _K_ITEM
        self._clen = 0
        self._over = False
        self._cstart = 0

    def feed(self, data):
        """Scan one chunk (bytes, bytearray or memoryview, any length)."""
        if type(data) is not memoryview:
            self._feed(data, len(data))
            return
        if self._scratch is None:
            self._scratch = bytearray(512)
        scratch = self._scratch
        size = len(scratch)
        view = memoryview(scratch)
        off, total = 0, len(data)
        while off < total:
            n = min(size, total - off)
            view[:n] = data[off:off + n]
            self._feed(scratch, n)
            off += n

    def close(self):
        """The top-level members other than `key` (a dict); JsonError if the body ended early."""
        st = self._st
        if st == _END:
            return self._top
        if st == _FAIL:
            raise self._error("the JSON reader already failed")
        self._st = _FAIL
        if st == _START:
            raise self._error("the response ended before its JSON began (after %d bytes)"
                              % self._pos)
        if st == _STR:
            what = "a string"
        elif st == _NUM:
            what = "a number"
        elif st == _LIT:
            what = "true, false or null"
        elif self._depth == 1:
            what = "the top-level object"
        elif self._items and self._depth == 2:
            what = "the '%s' array" % self._key
        else:
            what = "an object" if self._stk[self._depth - 1] == 123 else "an array"
        if self._capd == 2:
            what += " in element %d of '%s'" % (self.count + 1, self._key)
        elif self._items and self._depth > 2:
            what += " in the '%s' array" % self._key
        raise self._error("the response ended inside %s after %d bytes" % (what, self._pos))

    # internals -----------------------------------------------------------------------------

    def _error(self, message, cls=JsonError):
        if self.host:
            message = "the answer from %s: %s" % (self.host, message)
        return cls(message, self.host)

    def _bad(self, i, what, c=-1):
        if c >= 0:
            what += ", found " + ("'%s'" % chr(c) if c in _STRUCTURAL else
                                  "a digit" if 48 <= c <= 57 else "another character")
        return self._error("malformed JSON at byte %d: %s" % (self._pos + i, what))

    def _feed(self, data, n):
        if self._st == _FAIL:
            raise self._error("the JSON reader already failed")
        try:
            self._scan(data, n)
        except BaseException:
            self._st = _FAIL
            raise
        self._pos += n

    def _start(self, kind, i):
        self._kind = kind
        self._clen = 0
        self._over = False
        self._cstart = self._pos + i

    def _take(self, data, a, b):
        # Append data[a:b] to the value being collected.
        n = b - a
        if n <= 0 or self._over:
            return
        have = self._clen
        if have + n > self._max:
            if self._kind == _K_NESTED:
                self._over = True
                return
            raise self._too_large()
        self._mv[have:have + n] = memoryview(data)[a:b]
        self._clen = have + n

    def _too_large(self):
        kind, limit, at = self._kind, self._max, self._cstart
        if kind == _K_ITEM:
            what = "element %d of '%s'" % (self.count + 1, self._key)
        elif kind == _K_NAME:
            what = "a top-level member name"
        else:
            what = "a top-level member"
        return self._error("%s (from byte %d) is longer than %d bytes" % (what, at, limit),
                           ItemTooLarge)

    def _finish(self, data, a, b):
        # The collected value ends at data[b]: parse it and hand it over.
        self._take(data, a, b)
        kind = self._kind
        if self._over:
            self.skipped.append(self._name)
            return
        try:
            obj = _loads(self._mv, _fix_surrogates(self._buf, self._clen))
        except ValueError:  # UnicodeError too: the grammar was checked already
            raise self._error("undecodable text (not UTF-8?) in the value from byte %d"
                              % self._cstart) from None
        if kind == _K_ITEM:
            self.count += 1
            self._on_item(obj)
        elif kind == _K_NAME:
            self._name = obj
        else:
            self._top[self._name] = obj

    def _scan(self, data, end):
        # One chunk, data[0:end]. The state lives in locals here and in self between chunks.
        st = self._st
        depth = self._depth
        stk = self._stk
        capd = self._capd
        items = self._items
        after = self._after
        esc = self._esc
        num = self._num
        lit = self._lit
        lpos = self._lpos
        i = mark = 0  # mark: where the collected value's bytes in this chunk begin
        q = bs = -1  # the next '"' and '\' at or after i (end: none in this chunk)
        while i < end:
            if st == _STR:
                if esc:
                    c = data[i]
                    if esc > 0:
                        if c == 117:  # u
                            esc = -4
                        elif c in _ESCAPES:
                            esc = 0
                        else:
                            raise self._bad(i, "an unknown escape in a string")
                    elif _HEX[c]:
                        esc += 1
                    else:
                        raise self._bad(i, "a \\u escape without four hex digits")
                    i += 1
                    continue
                if q < i:
                    q = data.find(b'"', i, end)
                    if q < 0:
                        q = end
                if bs < i:
                    bs = data.find(b"\\", i, end)
                    if bs < 0:
                        bs = end
                if bs < q:
                    i = bs + 1  # just past the '\'
                    if i < end:  # fast path: the whole escape is in this chunk
                        c = data[i]
                        if c == 117:  # u
                            if i + 4 < end and _HEX[data[i + 1]] and _HEX[data[i + 2]] and \
                                    _HEX[data[i + 3]] and _HEX[data[i + 4]]:
                                i += 5
                                continue
                        elif c in _ESCAPES:
                            i += 1
                            continue
                    esc = 1
                    continue
                i = q + 1
                if q == end:
                    break
                st = after
                if depth == capd:
                    self._finish(data, mark, i)
                    capd = -1
                if i < end:  # fast path: the ':' or ',' that usually follows
                    c = data[i]
                    if st == _COLON:
                        if c == 58:
                            i += 1
                            st = _VAL
                    elif c == 44:
                        i += 1
                        st = _KEY if stk[depth - 1] == 123 else _VAL
                continue
            c = data[i]
            if st == _NUM:
                if 48 <= c <= 57:
                    if num == 1:
                        num = 2 if c == 48 else 3
                    elif num == 2:
                        raise self._bad(i, "a number with a leading zero")
                    elif num == 4:
                        num = 5
                    elif num == 6 or num == 7:
                        num = 8
                elif c == 46 and (num == 2 or num == 3):  # .
                    num = 4
                elif (c == 101 or c == 69) and (num == 2 or num == 3 or num == 5):  # e E
                    num = 6
                elif (c == 43 or c == 45) and num == 6:  # + -
                    num = 7
                elif num == 2 or num == 3 or num == 5 or num == 8:
                    st = _NEXT  # the number ended before c: c is looked at again
                    if depth == capd:
                        self._finish(data, mark, i)
                        capd = -1
                    if c == 44:
                        i += 1
                        st = _KEY if stk[depth - 1] == 123 else _VAL
                    continue
                else:
                    raise self._bad(i, "an incomplete number")
                i += 1
                continue
            if st == _LIT:
                n = len(lit)
                while lpos < n and i < end:
                    if data[i] != lit[lpos]:
                        raise self._bad(i, "a misspelt true, false or null")
                    i += 1
                    lpos += 1
                if lpos == n:
                    st = _NEXT
                    if depth == capd:
                        self._finish(data, mark, i)
                        capd = -1
                    if i < end and data[i] == 44:
                        i += 1
                        st = _KEY if stk[depth - 1] == 123 else _VAL
                continue
            if c <= 32:
                if c == 32 or c == 10 or c == 13 or c == 9:
                    i += 1
                    continue
                raise self._bad(i, "a control character outside a string")
            if st == _NEXT:
                if c == 44:  # ,
                    st = _KEY if stk[depth - 1] == 123 else _VAL
                    i += 1
                    continue
                if c != 125 and c != 93:
                    raise self._bad(i, "expected ',' or '%s'"
                                    % ("}" if stk[depth - 1] == 123 else "]"), c)
            elif st == _COLON:
                if c != 58:
                    raise self._bad(i, "expected ':'", c)
                st = _VAL
                i += 1
                continue
            elif st == _KEY or st == _KEY1:
                if c == 34:
                    i += 1
                    if depth == 1:  # a top-level member name
                        capd = 1
                        mark = i - 1
                        self._start(_K_NAME, mark)
                    else:  # fast path: the whole name is here, without escapes, then ':'
                        if q < i:
                            q = data.find(b'"', i, end)
                            if q < 0:
                                q = end
                        if bs < i:
                            bs = data.find(b"\\", i, end)
                            if bs < 0:
                                bs = end
                        if q < bs:
                            i = q + 1
                            if i < end and data[i] == 58:
                                i += 1
                                st = _VAL
                            else:
                                st = _COLON
                            continue
                    st = _STR
                    after = _COLON
                    continue
                if c != 125 or st == _KEY:
                    raise self._bad(i, "expected a member name", c)
            elif st == _VAL or st == _VAL1:
                if c != 93 or st == _VAL:  # a value begins
                    if capd < 0:
                        if depth == 2:
                            if items:
                                capd = 2
                                mark = i
                                self._start(_K_ITEM, i)
                        elif depth == 1:
                            if self._name == self._key:
                                if c != 91:
                                    raise self._error("the member '%s' (at byte %d) is "
                                                      "not an array"
                                                      % (self._key, self._pos + i))
                                items = True
                                self.found = True
                            else:
                                capd = 1
                                mark = i
                                self._start(_K_NESTED if c == 123 or c == 91 else _K_SCALAR, i)
                    i += 1
                    if c == 34:
                        if q < i:
                            q = data.find(b'"', i, end)
                            if q < 0:
                                q = end
                        if bs < i:
                            bs = data.find(b"\\", i, end)
                            if bs < 0:
                                bs = end
                        if q < bs:  # fast path: the whole string is here, without escapes
                            i = q + 1
                            st = _NEXT
                            if depth == capd:
                                self._finish(data, mark, i)
                                capd = -1
                            if i < end and data[i] == 44:  # and a ',' follows
                                i += 1
                                st = _KEY if stk[depth - 1] == 123 else _VAL
                        else:
                            st = _STR
                            after = _NEXT
                    elif c == 123 or c == 91:
                        if depth == _MAX_DEPTH:
                            raise self._bad(i - 1, "more than %d nested objects and arrays"
                                            % _MAX_DEPTH)
                        stk[depth] = c
                        depth += 1
                        st = _KEY1 if c == 123 else _VAL1
                    elif 48 <= c <= 57 or c == 45:
                        st = _NUM
                        num = 1 if c == 45 else 2 if c == 48 else 3
                    elif c == 116 or c == 102 or c == 110:
                        st = _LIT
                        lit = b"true" if c == 116 else b"false" if c == 102 else b"null"
                        lpos = 1
                    else:
                        raise self._bad(i - 1, "expected a value", c)
                    continue
            elif st == _START:
                if c != 123:
                    raise self._error("the response is not a JSON object (it begins with %s)"
                                      % ("'%s'" % chr(c) if c in _STRUCTURAL else
                                         "a number" if 48 <= c <= 57 or c == 45 else
                                         "another character"))
                stk[0] = 123
                depth = 1
                st = _KEY1
                i += 1
                continue
            elif st == _END:
                raise self._bad(i, "more data after the end of the top-level object")
            else:
                raise self._error("the JSON reader already failed")
            # c is '}' or ']' and closes the innermost container
            if stk[depth - 1] != c - 2:
                raise self._bad(i, "'%s' closes a '%s'" % (chr(c), chr(stk[depth - 1])))
            depth -= 1
            i += 1
            if depth == 0:
                st = _END
                continue
            st = _NEXT
            if depth == 1 and items:
                items = False
            elif depth == capd:
                self._finish(data, mark, i)
                capd = -1
            if i < end and data[i] == 44:
                i += 1
                st = _KEY if stk[depth - 1] == 123 else _VAL
        if capd >= 0:
            self._take(data, mark, end)
        self._st = st
        self._depth = depth
        self._capd = capd
        self._items = items
        self._after = after
        self._esc = esc
        self._num = num
        self._lit = lit
        self._lpos = lpos


def read_items(source, key, on_item, max_item=4096, chunk=512):
    """Read a JSON object from source.readinto(buf) (0 at the end), calling on_item(obj) for
    each element of its array member `key`; returns the other top-level members (a dict).
    One buffer of `chunk` bytes and one of `max_item` bytes, whatever the body's length."""
    reader = Reader(key, on_item, max_item, getattr(source, "host", None))
    buf = bytearray(chunk)
    view = memoryview(buf)
    while True:
        n = source.readinto(view)
        if not n:
            break
        reader._feed(buf, n)
    return reader.close()
