"""firmware/app/ntlm.py against an independent NTLM implementation: pyspnego's acceptor (the
pure-Python one, credentials from NTLM_USER_FILE) must accept the NEGOTIATE and AUTHENTICATE
messages our client writes, and refuse them when the password or the MIC is wrong.

The client runs where it will run: inside the Unix-port MicroPython (a small driver below,
fed JSON lines on stdin, the firmware tree on MICROPYPATH). pyspnego's acceptor always sends
MsvAvTimestamp, so every exchange here carries a MIC, which it checks.
"""

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import spnego
from spnego._ntlm_raw.md4 import md4 as spnego_md4
from spnego.exceptions import SpnegoError

from lintel import FIRMWARE_DIR

MICROPYTHON = Path(sys.executable).parent / "micropython"

DRIVER = r"""
import binascii
import json
import sys

from app import ntlm


def unhex(text):
    return binascii.unhexlify(text)


def run(req):
    op = req["op"]
    if op == "negotiate":
        return ntlm.negotiate()
    if op == "authenticate":
        return ntlm.authenticate(unhex(req["negotiate"]), unhex(req["challenge"]), req["user"],
                                 req["domain"], req["password"], req.get("workstation", ""))
    if op == "header":
        return ntlm.header_challenge(req["value"])
    if op == "md4":
        return ntlm.md4(unhex(req["data"]))
    if op == "hmac_md5":
        return ntlm.hmac_md5(unhex(req["key"]), unhex(req["data"]))
    if op == "upper":
        return ntlm._upper(req["text"]).encode()  # as hex: no control characters in a line
    raise ValueError(op)


while True:
    line = sys.stdin.readline()
    if not line:
        break
    try:
        out = run(json.loads(line))
        if isinstance(out, bytes):
            out = binascii.hexlify(out).decode()
        print(json.dumps({"ok": out}))
    except ntlm.NtlmError as e:
        print(json.dumps({"error": e.words}))
"""


def micropython(requests: list[dict]) -> list:
    """Run each request through app.ntlm in the Unix-port MicroPython; the answers in order
    (bytes for hex answers, str, None, or NtlmError's words as ("error", words))."""
    env = dict(os.environ, MICROPYPATH=str(FIRMWARE_DIR))
    proc = subprocess.run(
        [str(MICROPYTHON), "-c", DRIVER],
        input="".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests),
        env=env, capture_output=True, text=True, encoding="utf-8", timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    answers = [json.loads(line) for line in proc.stdout.split("\n") if line]
    assert len(answers) == len(requests), proc.stdout + proc.stderr
    return [("error", a["error"]) if "error" in a else a["ok"] for a in answers]


def acceptor():
    return spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)


@pytest.fixture
def users(tmp_path, monkeypatch):
    """NTLM_USER_FILE with fake accounts (DOMAIN:USER:PASSWORD; an empty domain for a UPN)."""
    path = tmp_path / "ntlm-users"
    path.write_text("CONTOSO:svc-room:Fake-Pass-4711\n"
                    ":svc@contoso.example:Fake-Upn-0815\n"
                    "CONTOSO:j\u00fcrgen:p\u00e4ssw\u00f6rd-\U0001f600\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(path))
    return path


def exchange(user: str, domain: str, password: str, tamper=None):
    """NEGOTIATE and AUTHENTICATE from MicroPython, CHALLENGE from pyspnego; the acceptor."""
    server = acceptor()
    [negotiate] = micropython([{"op": "negotiate"}])
    challenge = server.step(bytes.fromhex(negotiate))
    assert challenge and not server.complete
    [auth] = micropython([{"op": "authenticate", "negotiate": negotiate,
                           "challenge": challenge.hex(), "user": user, "domain": domain,
                           "password": password, "workstation": "PANEL-1"}])
    auth = bytes.fromhex(auth)
    if tamper:
        auth = tamper(auth)
    assert server.step(auth) is None
    return server


def test_acceptor_accepts_domain_user(users):
    server = exchange("svc-room", "CONTOSO", "Fake-Pass-4711")
    assert server.complete
    assert server.client_principal == "CONTOSO\\svc-room"


def test_acceptor_accepts_upn_with_empty_domain(users):
    # pyspnego's user file takes a UPN as an entry with an empty domain (":user@domain:pw").
    server = exchange("svc@contoso.example", "", "Fake-Upn-0815")
    assert server.complete
    assert server.client_principal == "svc@contoso.example"


def test_acceptor_accepts_non_ascii_user_and_password(users):
    # Uppercase(User) of a non-ASCII name, and a password with a character beyond the BMP.
    server = exchange("j\u00fcrgen", "CONTOSO", "p\u00e4ssw\u00f6rd-\U0001f600")
    assert server.complete
    assert server.client_principal == "CONTOSO\\j\u00fcrgen"


@pytest.mark.parametrize("user, domain, password", [
    ("svc-room", "CONTOSO", "Fake-Pass-4712"),
    ("svc-room", "CONTOSO", "fake-pass-4711"),
    ("svc@contoso.example", "", "Fake-Pass-4711"),
    ("j\u00fcrgen", "CONTOSO", "p\u00e4ssw\u00f6rd-\U0001f601"),
])
def test_acceptor_refuses_wrong_password(users, user, domain, password):
    with pytest.raises(SpnegoError, match="Invalid NTLM response"):
        exchange(user, domain, password)


def test_acceptor_checks_our_mic(users):
    # A MIC off by one bit is refused: the acceptor did check the MIC (offset 72).
    def flip_mic(auth):
        return auth[:72] + bytes([auth[72] ^ 1]) + auth[73:]

    with pytest.raises(SpnegoError, match="Invalid MIC"):
        exchange("svc-room", "CONTOSO", "Fake-Pass-4711", tamper=flip_mic)


def test_pyspnego_challenge_through_header_challenge(users):
    # A CHALLENGE the acceptor wrote for pyspnego's own client, as a server would send it in
    # WWW-Authenticate, read by header_challenge; our AUTHENTICATE (its MIC over pyspnego's
    # NEGOTIATE) is then accepted.
    client = spnego.client("svc-room", "Fake-Pass-4711", protocol="ntlm",
                           options=spnego.NegotiateOptions.use_ntlm)
    server = acceptor()
    negotiate = client.step()
    challenge = server.step(negotiate)
    b64 = __import__("base64").b64encode(challenge).decode()
    parsed, bare = micropython([
        {"op": "header", "value": "Negotiate, NTLM " + b64},
        {"op": "header", "value": "Negotiate, NTLM"},
    ])
    assert bytes.fromhex(parsed) == challenge
    assert bare is None
    [auth] = micropython([{"op": "authenticate", "negotiate": negotiate.hex(),
                           "challenge": parsed, "user": "svc-room", "domain": "CONTOSO",
                           "password": "Fake-Pass-4711"}])
    server.step(bytes.fromhex(auth))
    assert server.complete and server.client_principal == "CONTOSO\\svc-room"


def test_md4_and_hmac_md5_agree_with_independent_ones():
    # Every padding case of MD4 (lengths 0..200, across the 55/56/64-byte edges) against
    # pyspnego's MD4; HMAC-MD5 with keys shorter than, equal to and longer than a block.
    datas = [bytes((i * 7 + n) & 0xFF for i in range(n)) for n in range(201)]
    keys = [bytes(range(k)) for k in (0, 1, 16, 63, 64, 65, 130)]
    requests = [{"op": "md4", "data": d.hex()} for d in datas]
    requests += [{"op": "hmac_md5", "key": k.hex(), "data": d.hex()}
                 for k in keys for d in datas[::40]]
    answers = micropython(requests)
    want = [spnego_md4(d).hex() for d in datas]
    want += [hmac.new(k, d, hashlib.md5).hexdigest() for k in keys for d in datas[::40]]
    assert answers == want


def test_upper_agrees_with_unicode_where_it_maps():
    # _upper maps ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic one for one; where it
    # changes a character, Unicode's uppercase is that same single character.
    text = "".join(chr(c) for c in list(range(0x20, 0x250)) + list(range(0x370, 0x460)))
    [upper] = micropython([{"op": "upper", "text": text}])
    upper = bytes.fromhex(upper).decode()
    changed = 0
    for ch, up in zip(text, upper, strict=True):
        if up != ch:
            assert ch.upper() == up, (hex(ord(ch)), hex(ord(up)))
            changed += 1
    assert changed == 26 + 31 + 61 + 27 + 48  # ASCII, Latin-1, Extended-A, Greek, Cyrillic
    assert upper[text.index("a")] == "A" and upper[text.index("\u00df")] == "\u00df"  # ß kept
