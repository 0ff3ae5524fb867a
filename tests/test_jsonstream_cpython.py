"""firmware/app/jsonstream.py under CPython: random JSON documents, cut into random chunks,
must give exactly what json.loads gives; truncated and mutated documents must fail with
JsonError (or, when still valid JSON, give json.loads's answer), never a wrong result.

The MicroPython run (tests/firmware/test_jsonstream.py) is the one that counts; this one
tries many more documents than the panel's interpreter could in a test run.
"""

import json
import random
import sys

import pytest

from lintel import FIRMWARE_DIR

if str(FIRMWARE_DIR) not in sys.path:
    sys.path.append(str(FIRMWARE_DIR))

from app import jsonstream  # noqa: E402 -- firmware/app, plain Python without I/O
from app.http_errors import JsonError  # noqa: E402

KEY = "value"
PIECES = ["a", "Zq", " ", "0", '"', "\\", "/", "[", "]", "{", "}", ",", ":", "\n", "\t",
          "\x01", "\x1f", "\u00e9", "\u4e2d", "\U0001f600", "\u2028", "\ufeff", "true", "\\u"]
SEPARATORS = [(",", ":"), (", ", ": "), (" ,\n", " :\t"), (",\r\n ", ":")]


def rand_string(rnd: random.Random) -> str:
    return "".join(rnd.choice(PIECES) for _ in range(rnd.randrange(0, 12)))


def rand_number(rnd: random.Random):
    kind = rnd.randrange(5)
    if kind == 0:
        return rnd.randrange(-10, 10)
    if kind == 1:
        return rnd.randrange(-(10 ** 30), 10 ** 30)
    if kind == 2:
        return rnd.uniform(-1000, 1000)
    if kind == 3:
        return rnd.choice([0.0, -0.0, 1e-7, 1.5e300, -2.5e-300, 123.456])
    return rnd.random() * 10 ** rnd.randrange(-20, 20)


def rand_value(rnd: random.Random, depth: int = 0):
    kind = rnd.randrange(9 if depth < 4 else 6)
    if kind <= 1:
        return rand_string(rnd)
    if kind == 2:
        return rand_number(rnd)
    if kind == 3:
        return rnd.choice([True, False, None])
    if kind == 4:
        return rnd.choice(["", 0, [], {}])
    if kind == 5:
        return rand_string(rnd) * 3
    if kind <= 7:
        return [rand_value(rnd, depth + 1) for _ in range(rnd.randrange(0, 5))]
    return {rand_string(rnd): rand_value(rnd, depth + 1) for _ in range(rnd.randrange(0, 5))}


class Doc:
    """A random top-level object: its text, and each member's and element's own text."""

    def __init__(self, rnd: random.Random):
        self.ascii = rnd.random() < 0.5
        self.seps = rnd.choice(SEPARATORS)
        self.items = [rand_value(rnd) for _ in range(rnd.randrange(0, 12))]
        self.item_texts = [self.dumps(v) for v in self.items]
        members = [(rand_string(rnd) + "@odata", rand_value(rnd)) for _ in range(rnd.randrange(4))]
        if rnd.random() < 0.2:
            members.append(("@odata.nextLink", "https://graph.microsoft.com/v1.0/x?$skip=" +
                            rand_string(rnd) * 20))
        rnd.shuffle(members)
        self.has_key = rnd.random() < 0.9
        if self.has_key:
            members.insert(rnd.randrange(len(members) + 1), (KEY, None))
        comma, colon = self.seps
        self.members = []  # (name, name text, value, value text)
        parts = []
        for name, value in members:
            if name == KEY:
                text = "[" + comma.join(self.item_texts) + "]"
            else:
                text = self.dumps(value)
            self.members.append((name, self.dumps(name), value, text))
            parts.append(self.dumps(name) + colon + text)
        self.text = (rnd.choice(["", " ", "\r\n"]) + "{" + comma.join(parts) + "}" +
                     rnd.choice(["", "\n", " \t "])).encode()

    def dumps(self, value) -> str:
        return json.dumps(value, ensure_ascii=self.ascii, separators=self.seps)

    def expected(self, max_item: int):
        """(items, top, skipped, error class or None) as the reader must give them."""
        items, top, skipped = [], {}, []
        for name, name_text, value, text in self.members:
            if len(name_text.encode()) > max_item:
                return items, None, skipped, jsonstream.ItemTooLarge
            if name == KEY:
                for item, item_text in zip(self.items, self.item_texts, strict=True):
                    if len(item_text.encode()) > max_item:
                        return items, None, skipped, jsonstream.ItemTooLarge
                    items.append(item)
            elif len(text.encode()) <= max_item:
                top[name] = value
            elif isinstance(value, dict | list):
                skipped.append(name)
            else:
                return items, None, skipped, jsonstream.ItemTooLarge
        return items, top, skipped, None


def chunks(data: bytes, rnd: random.Random):
    # Random cut points, each piece as bytes, bytearray or memoryview.
    pos = 0
    while pos < len(data):
        n = rnd.choice([1, 2, 3, rnd.randrange(1, 64), rnd.randrange(1, 2000)])
        piece = data[pos:pos + n]
        pos += n
        kind = rnd.randrange(3)
        yield piece if kind == 0 else bytearray(piece) if kind == 1 else memoryview(piece)


def run(data: bytes, rnd: random.Random, max_item: int = 1 << 20):
    """(items handed over, top or None, skipped, the JsonError or None)."""
    items = []
    reader = jsonstream.Reader(KEY, items.append, max_item)
    try:
        for piece in chunks(data, rnd):
            reader.feed(piece)
        top = reader.close()
    except JsonError as e:
        assert str(e).isascii() and "\n" not in str(e)
        return items, None, reader.skipped, e
    return items, top, reader.skipped, None


class Source:
    def __init__(self, data: bytes, rnd: random.Random):
        self.data, self.pos, self.rnd = memoryview(data), 0, rnd

    def readinto(self, buf) -> int:
        n = min(len(buf), self.rnd.randrange(1, 700), len(self.data) - self.pos)
        buf[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


@pytest.mark.parametrize("seed", range(4))
def test_random_documents_match_json_loads(seed):
    rnd = random.Random(seed)
    for _ in range(100):
        doc = Doc(rnd)
        reference = json.loads(doc.text)
        expected_items = reference.pop(KEY, [])
        items, top, skipped, error = run(doc.text, rnd)
        assert error is None, (doc.text, error)
        assert items == expected_items and top == reference, doc.text
        assert repr(items) == repr(expected_items)  # -0.0 and 0, 1 and 1.0, True and 1
        got = []
        top = jsonstream.read_items(Source(doc.text, rnd), KEY, got.append,
                                    chunk=rnd.choice([1, 7, 512]))
        assert got == expected_items and top == reference


@pytest.mark.parametrize("seed", range(4))
def test_random_documents_with_a_small_element_bound(seed):
    rnd = random.Random(100 + seed)
    seen = {"kept": 0, "skipped": 0, "too large": 0}
    for _ in range(100):
        doc = Doc(rnd)
        max_item = rnd.choice([8, 16, 40, 100, 300])
        want_items, want_top, want_skipped, want_error = doc.expected(max_item)
        items, top, skipped, error = run(doc.text, rnd, max_item)
        assert items == want_items, doc.text
        if want_error is None:
            assert error is None, (doc.text, max_item, error)
            assert top == want_top and skipped == want_skipped
            seen["skipped" if skipped else "kept"] += 1
        else:
            assert type(error) is want_error, (doc.text, max_item, error)
            assert error.reason == "item_too_large"
            seen["too large"] += 1
    assert min(seen.values()) >= 2, seen  # every outcome was tried


@pytest.mark.parametrize("seed", range(2))
def test_truncated_documents_fail_and_hand_over_only_a_prefix(seed):
    rnd = random.Random(200 + seed)
    for _ in range(100):
        doc = Doc(rnd)
        body = doc.text.rstrip()
        reference = json.loads(body).get(KEY, [])
        for cut in sorted({rnd.randrange(len(body)) for _ in range(8)}):
            items, top, _, error = run(body[:cut], rnd)
            assert isinstance(error, JsonError) and top is None, (body[:cut], top)
            assert "ended" in str(error) or not body[:cut].strip(), str(error)
            assert items == reference[:len(items)]


def replace_lone_surrogates(value):
    # The reader gives U+FFFD for a lone \ud800-\udfff escape (MicroPython cannot hold it).
    if isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, list):
        return [replace_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {replace_lone_surrogates(k): replace_lone_surrogates(v) for k, v in value.items()}
    return value


def reference_outcome(data: bytes):
    """json.loads's answer as the reader must give it: (items, top), or None for an error,
    or ... when the top-level object repeats a name (the reader streams every key array)."""
    pairs = []

    def hook(members):
        pairs.append(members)
        return dict(members)

    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=hook)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    names = [name for name, _ in pairs[-1]]
    if len(set(names)) != len(names):
        return ...
    if KEY in doc and not isinstance(doc[KEY], list):
        return None
    if "NaN" in data.decode() or "Infinity" in data.decode():
        return ...  # json.loads takes these, JSON does not
    doc = replace_lone_surrogates(doc)
    return doc.pop(KEY, []), doc


@pytest.mark.parametrize("seed", range(4))
def test_mutated_documents_fail_or_match_json_loads(seed):
    rnd = random.Random(300 + seed)
    alphabet = b'{}[],:"\\ \n0123456789-+.eEtrufalsn\x00\x1f\xc3\xa9\xff/x'
    checked = failed = 0
    for _ in range(250):
        body = bytearray(Doc(rnd).text)
        for _ in range(rnd.choice([1, 1, 2, 3])):
            at = rnd.randrange(len(body))
            op = rnd.randrange(3)
            if op == 0:
                body[at] = rnd.choice(alphabet)
            elif op == 1:
                del body[at]
            else:
                body.insert(at, rnd.choice(alphabet))
        data = bytes(body)
        want = reference_outcome(data)
        items, top, _, error = run(data, rnd)
        if want is ...:
            continue
        if want is None:
            assert error is not None, (data, items, top)
            want_items = None
            failed += 1
        else:
            assert error is None, (data, error)
            assert (items, top) == want, data
            want_items = want[0]
            checked += 1
        if want_items is not None:
            assert items == want_items
    assert checked > 30 and failed > 120, (checked, failed)
