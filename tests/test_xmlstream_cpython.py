"""firmware/app/xmlstream.py under CPython, against the standard library's XML parser: random
namespaced documents, cut into random chunks, must give the events ElementTree gives; cut and
mutated documents must fail with XmlError (never another exception) or, if ElementTree reads
them too, give its events.

The MicroPython run (tests/firmware/test_xmlstream.py) is the one that counts; this one tries
many more documents than the panel's interpreter could in a test run.
"""

import random
import sys
import xml.etree.ElementTree as ET

import pytest

from lintel import FIRMWARE_DIR

if str(FIRMWARE_DIR) not in sys.path:
    sys.path.append(str(FIRMWARE_DIR))

from app import xmlstream  # noqa: E402 -- firmware/app, plain Python without I/O
from app.xmlstream import XmlError, escape  # noqa: E402

URIS = ["urn:a", "urn:b", "http://schemas.microsoft.com/exchange/services/2006/types"]
NAMES = {URIS[0]: "a", URIS[2]: "t"}  # urn:b is one the reader's caller does not know
TEXTS = ["x", "Caf\u00e9", " ", "<", ">", "&", '"', "'", "\u4e2d", "\U0001f600", "\n", "]]",
         "--", "\t", "0"]
LOCALS = ["Item", "Subject", "x", "R_1", "a.b", "\u00e9l"]


def rand_text(rnd: random.Random) -> str:
    return "".join(rnd.choice(TEXTS) for _ in range(rnd.randrange(0, 6)))


def build(rnd: random.Random, depth: int, scope: dict) -> str:
    """A random element as text; `scope` maps prefixes ('' the default) to URIs in force."""
    scope = dict(scope)
    decls = {}
    for _ in range(rnd.randrange(0, 3) if depth < 3 else 0):
        prefix = rnd.choice(["", "p", "q", "t"])
        uri = rnd.choice(URIS)
        scope[prefix] = uri
        decls[prefix] = f' xmlns{":" + prefix if prefix else ""}="{uri}"'
    decls = list(decls.values())
    prefix = rnd.choice([p for p in scope if p] + [""] * 2)
    qname = (prefix + ":" if prefix else "") + rnd.choice(LOCALS)
    attrs = "".join(f' k{i}={q}{escape(rand_text(rnd)).replace(chr(39), "&apos;")}{q}'
                    for i, q in enumerate(rnd.choice(["\"", "'"]) for _ in range(rnd.randrange(3))))
    inner = []
    if depth < 5 and rnd.random() < 0.6:
        for _ in range(rnd.randrange(1, 4)):
            inner.append(build(rnd, depth + 1, scope))
            if rnd.random() < 0.2:
                inner.append("<!-- " + rnd.choice(["c", "<x>", "&"]) + " -->")
        sep = rnd.choice(["", "\n  ", " "])
        body = sep + sep.join(inner) + sep
    else:
        text = rand_text(rnd)
        body = (f"<![CDATA[{text.replace(']]', '] ]')}]]>" if rnd.random() < 0.2
                else escape(text))
        if not body and rnd.random() < 0.5:
            return f"<{qname}{''.join(decls)}{attrs}/>"
    return f"<{qname}{''.join(decls)}{attrs}>{body}</{qname}>"


def expected(doc: bytes) -> list:
    """The events ElementTree gives, in the reader's terms."""
    out = []
    texts = []
    parser = ET.XMLPullParser(events=("start", "end"))
    parser.feed(doc)
    parser.close()

    def name(tag: str) -> str:
        if tag.startswith("{"):
            uri, local = tag[1:].split("}")
            return (NAMES.get(uri, "?") + ":" + local) if uri else local
        return tag

    for event, el in parser.read_events():
        if event == "start":
            out.append(("s", name(el.tag), {k.split("}")[-1]: v for k, v in el.attrib.items()}))
            texts.append(el)
        else:
            text = (el[-1].tail if len(el) else el.text) or ""
            out.append(("e", name(el.tag), text))
    return out


def events(doc: bytes, chunks: list[int]) -> list:
    out = []
    r = xmlstream.Reader(NAMES, lambda n, a: out.append(("s", n, a)),
                         lambda n, t: out.append(("e", n, t)), max_text=1 << 20,
                         max_tag=1 << 20)
    at = 0
    for size in chunks:
        r.feed(memoryview(doc)[at:at + size])
        at += size
    r.feed(doc[at:])
    r.close()
    return out


def chunking(rnd: random.Random, n: int) -> list[int]:
    sizes = []
    while sum(sizes) < n:
        sizes.append(rnd.choice([1, 2, 3, 7, 64, 511]))
    return sizes


@pytest.mark.parametrize("seed", range(40))
def test_random_documents_match_elementtree(seed):
    rnd = random.Random(seed)
    for _ in range(25):
        doc = ('<?xml version="1.0"?>\n' + build(rnd, 0, {}) + "\n").encode()
        assert events(doc, chunking(rnd, len(doc))) == expected(doc), doc


@pytest.mark.parametrize("seed", range(20))
def test_cut_and_mutated_documents_fail_cleanly(seed):
    rnd = random.Random(1000 + seed)
    for _ in range(25):
        doc = bytearray(build(rnd, 0, {}).encode())
        cut = bytes(doc[:rnd.randrange(len(doc))])
        with pytest.raises(XmlError):
            events(cut, chunking(rnd, len(cut)))
        for _ in range(rnd.randrange(1, 4)):
            doc[rnd.randrange(len(doc))] = rnd.choice(b'<>&;/="\'!?-x:\xc3 ')
        mutated = bytes(doc)
        try:
            got = events(mutated, chunking(rnd, len(mutated)))
        except XmlError:
            continue
        try:
            want = expected(mutated)
        except ET.ParseError:
            # Looser than a validating parser (names' characters, a repeated attribute), the
            # reader still reads something sensible; only a crash or a wrong answer to a
            # well-formed document would be a fault.
            continue
        assert got == want, mutated
