"""lintel.seal on the host, and the host and the panel (app.seal in the Unix-port MicroPython)
opening each other's files."""

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lintel import FIRMWARE_DIR, seal

MICROPYTHON = Path(sys.executable).parent / "micropython"

KEY = bytes(range(32))
KEY_ID = b"LINTEL01"
IV = bytes(range(0xF0, 0x100))
PLAINTEXT = b'{"room":"Lintel known-answer test"}'
# The same vector is checked inside MicroPython by tests/firmware/test_seal.py and printed in
# docs/sealed-config.md.
KNOWN = bytes.fromhex(
    "4c5345414c01014c494e54454c303157d43fbb23000000f0f1f2f3f4f5f6f7f8"
    "f9fafbfcfdfeff38219997f647ac10ec22f87fd542e70ad7acc5d3ee1699e608"
    "a26a6f1cbdfca848f2fd2f29728295858060d0bfdc61a396d90cc6704c58cac2"
    "866692872deacd0d187b28f0e37be9db878511d4be1302")

OTHER_KEY = bytes(range(100, 132))
OTHER_ID = b"OTHER-01"

REASONS = {seal.Truncated: "truncated", seal.NotSealed: "not_sealed",
           seal.UnknownVersion: "unknown_version", seal.WrongKind: "wrong_kind",
           seal.OtherPanel: "other_panel", seal.WrongKey: "wrong_key",
           seal.Tampered: "tampered"}


def refusal(data, key=KEY, key_id=KEY_ID, kind=seal.KIND_CONFIG) -> seal.SealError:
    with pytest.raises(seal.SealError) as info:
        seal.open_sealed(key, key_id, kind, data)
    return info.value


def check_words(e: seal.SealError, *secrets: bytes) -> None:
    """A documented class with its reason; no key, derived key or plaintext in its text."""
    assert type(e) in REASONS and e.reason == REASONS[type(e)]
    text = str(e)
    assert text and "\n" not in text
    enc_key = hmac.new(KEY, b"lintel-seal-v1 enc", hashlib.sha256).digest()
    mac_key = hmac.new(KEY, b"lintel-seal-v1 mac", hashlib.sha256).digest()
    for secret in (KEY, OTHER_KEY, enc_key, mac_key, PLAINTEXT, *secrets):
        assert secret.hex()[:16] not in text
        assert secret.hex()[-16:] not in text
        assert repr(secret)[2:18] not in text
    assert "known-answer" not in text


def test_known_answer_vector():
    assert seal.seal(KEY, KEY_ID, seal.KIND_CONFIG, PLAINTEXT, iv=IV) == KNOWN
    assert seal.open_sealed(KEY, KEY_ID, seal.KIND_CONFIG, KNOWN) == PLAINTEXT
    assert seal.kcv(KEY) == bytes.fromhex("57d43fbb")
    assert seal.key_id_of(KNOWN) == KEY_ID


def test_known_answer_vector_from_first_principles():
    """The vector rebuilt from the document's recipe with stdlib hmac and raw AES."""
    derive = lambda label: hmac.new(KEY, b"lintel-seal-v1 " + label, hashlib.sha256).digest()  # noqa: E731
    pad = 16 - len(PLAINTEXT) % 16
    padded = PLAINTEXT + bytes([pad]) * pad
    enc = Cipher(algorithms.AES(derive(b"enc")), modes.CBC(IV)).encryptor()
    header = (b"LSEAL" + bytes([1, 1]) + KEY_ID + derive(b"kcv")[:4]
              + len(PLAINTEXT).to_bytes(4, "little"))
    body = header + IV + enc.update(padded) + enc.finalize()
    assert body + hmac.new(derive(b"mac"), body, hashlib.sha256).digest() == KNOWN


@pytest.mark.parametrize("kind", [seal.KIND_CONFIG, seal.KIND_TOKENS])
def test_round_trip(kind):
    key, key_id = seal.new_key()
    assert len(key) == 32 and len(key_id) == 8
    for n in [*range(0, 49), 4096, 16384]:
        plaintext = os.urandom(n)
        sealed = seal.seal(key, key_id, kind, plaintext)
        assert len(sealed) == seal.MIN_LEN + (n // 16) * 16
        assert seal.open_sealed(key, key_id, kind, sealed) == plaintext
        assert seal.open_sealed(key, key_id, kind, bytearray(sealed)) == plaintext
        assert seal.open_sealed(key, key_id, kind, memoryview(sealed)) == plaintext


def test_fixed_iv_is_deterministic_and_random_iv_is_not():
    assert seal.seal(KEY, KEY_ID, 2, b"abc", iv=IV) == seal.seal(KEY, KEY_ID, 2, b"abc", iv=IV)
    a, b = seal.seal(KEY, KEY_ID, 2, b"abc"), seal.seal(KEY, KEY_ID, 2, b"abc")
    assert a[23:39] != b[23:39]


def test_new_keys_differ():
    assert len({seal.new_key() for _ in range(20)}) == 20


def test_each_refusal_is_distinct_and_worded():
    e = refusal(KNOWN[:10])
    assert type(e) is seal.Truncated
    assert str(e) == "the sealed file is truncated: 10 bytes, a sealed file has at least 87"
    e = refusal(b"PK\x03\x04" + KNOWN[4:])
    assert type(e) is seal.NotSealed and str(e) == "not a sealed Lintel file"
    e = refusal(KNOWN[:5] + b"\x07" + KNOWN[6:])
    assert type(e) is seal.UnknownVersion
    assert str(e) == "sealed with format version 7; this tool understands 1 — update it"
    e = refusal(KNOWN, kind=seal.KIND_TOKENS)
    assert type(e) is seal.WrongKind
    assert str(e) == "this is a sealed panel configuration, not a token store"
    e = refusal(KNOWN, key=OTHER_KEY, key_id=OTHER_ID)
    assert type(e) is seal.OtherPanel
    assert str(e) == ("sealed for another panel (key id 4c494e54454c3031); "
                      "this panel's key id is 4f544845522d3031")
    e = refusal(KNOWN, key=OTHER_KEY)
    assert type(e) is seal.WrongKey
    assert str(e) == ("sealed with a different key of the same id: the panel was "
                      "re-provisioned or the inventory is out of date")
    e = refusal(KNOWN[:-1])
    assert type(e) is seal.Truncated
    assert str(e) == "the sealed file is truncated: 118 bytes, its header says 119"
    e = refusal(KNOWN + b"\0")
    assert type(e) is seal.Truncated
    assert str(e) == ("the sealed file's length does not match its header: 120 bytes, "
                      "the header says 119")
    e = refusal(KNOWN[:-1] + bytes([KNOWN[-1] ^ 0x80]))
    assert type(e) is seal.Tampered
    assert str(e) == ("the sealed file was changed or damaged: its authentication tag "
                      "does not match")
    assert len({cls.reason for cls in REASONS}) == len(REASONS)
    assert all(issubclass(cls, seal.SealError) for cls in REASONS)


def test_bad_padding_behind_a_good_tag_is_tampered():
    enc_key = hmac.new(KEY, b"lintel-seal-v1 enc", hashlib.sha256).digest()
    mac_key = hmac.new(KEY, b"lintel-seal-v1 mac", hashlib.sha256).digest()
    enc = Cipher(algorithms.AES(enc_key), modes.CBC(IV)).encryptor()
    body = (b"LSEAL\x01\x01" + KEY_ID + seal.kcv(KEY) + (13).to_bytes(4, "little") + IV
            + enc.update(b"x" * 13 + b"\x03\x03\x04") + enc.finalize())
    e = refusal(body + hmac.new(mac_key, body, hashlib.sha256).digest())
    assert type(e) is seal.Tampered and "padding" in str(e)


def test_truncated_at_every_length():
    big = seal.seal(KEY, KEY_ID, seal.KIND_CONFIG, os.urandom(300))
    for n in range(len(big)):
        e = refusal(big[:n])
        assert type(e) is seal.Truncated, n
        check_words(e)


def flips(data: bytes):
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        yield bit, bytes(flipped)


def test_every_bit_flip_is_refused_with_a_documented_error():
    small = seal.seal(KEY, KEY_ID, seal.KIND_CONFIG, b"room=A", iv=IV)
    by_field = {}
    for bit, flipped in flips(small):
        try:
            seal.open_sealed(KEY, KEY_ID, seal.KIND_CONFIG, flipped)
        except seal.SealError as e:
            check_words(e, b"room=A")
            by_field.setdefault(e.reason, set()).add(bit // 8)
        else:
            pytest.fail(f"bit {bit} flipped and the file still opened")
    assert by_field["not_sealed"] == set(range(0, 5))
    assert by_field["unknown_version"] == {5}
    assert by_field["wrong_kind"] == {6}
    assert by_field["other_panel"] == set(range(7, 15))
    assert by_field["wrong_key"] == set(range(15, 19))
    # the length field: a change that keeps the block count is caught by the tag
    assert by_field["truncated"] | by_field["tampered"] >= set(range(19, 23))
    assert by_field["tampered"] >= set(range(23, len(small)))


def test_other_panel_and_wrong_key_and_wrong_kind():
    tokens = seal.seal(KEY, KEY_ID, seal.KIND_TOKENS, b"refresh-token-secret")
    for e in (refusal(tokens), refusal(tokens, key=OTHER_KEY, key_id=OTHER_ID, kind=2),
              refusal(tokens, key=OTHER_KEY, kind=2)):
        check_words(e, b"refresh-token-secret")
    assert type(refusal(tokens)) is seal.WrongKind
    assert type(refusal(tokens, key=OTHER_KEY, key_id=OTHER_ID, kind=2)) is seal.OtherPanel
    assert type(refusal(tokens, key=OTHER_KEY, kind=2)) is seal.WrongKey


def test_key_id_of():
    assert seal.key_id_of(KNOWN) == KEY_ID
    assert seal.key_id_of(KNOWN[:23]) == KEY_ID
    with pytest.raises(seal.Truncated):
        seal.key_id_of(KNOWN[:22])
    with pytest.raises(seal.NotSealed):
        seal.key_id_of(b"x" * 100)
    with pytest.raises(seal.UnknownVersion):
        seal.key_id_of(KNOWN[:5] + b"\x02" + KNOWN[6:])


def test_bad_arguments_are_value_errors():
    for args in [(KEY[:16], KEY_ID, 1, b""), (KEY, KEY_ID[:7], 1, b""), (KEY, KEY_ID, 0, b"")]:
        with pytest.raises(ValueError):
            seal.seal(*args)
    with pytest.raises(ValueError):
        seal.seal(KEY, KEY_ID, 1, b"", iv=b"short")
    with pytest.raises(ValueError):
        seal.open_sealed(KEY, b"", 1, KNOWN)


# --- host and panel together -----------------------------------------------------------------

PANEL_SCRIPT = """
import binascii, json, sys
from app import seal
with open(sys.argv[1]) as f:
    job = json.load(f)
h = binascii.unhexlify
out = {"opened": [], "reasons": [], "sealed": []}
key, key_id = h(job["key"]), h(job["key_id"])
for blob in job["open"]:
    out["opened"].append(binascii.hexlify(seal.open_sealed(key, key_id, 1, h(blob))).decode())
for blob in job["refuse"]:
    try:
        seal.open_sealed(key, key_id, 1, h(blob))
        out["reasons"].append("opened")
    except seal.SealError as e:
        out["reasons"].append(e.reason)
for kind, text in job["seal"]:
    out["sealed"].append(binascii.hexlify(seal.seal(key, key_id, kind, h(text))).decode())
print(json.dumps(out))
"""


def on_panel(tmp_path: Path, job: dict) -> dict:
    script, data = tmp_path / "panel_seal.py", tmp_path / "job.json"
    script.write_text(PANEL_SCRIPT)
    data.write_text(json.dumps(job))
    proc = subprocess.run(
        [str(MICROPYTHON), "-X", "heapsize=2M", str(script), str(data)],
        env={**os.environ, "MICROPYPATH": str(FIRMWARE_DIR)},
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_host_and_panel_open_each_others_files(tmp_path):
    key, key_id = seal.new_key()
    sizes = [0, 1, 15, 16, 17, 31, 32, 33, 1000, 4096, 16384]
    texts = [os.urandom(n) for n in sizes]
    host_sealed = [seal.seal(key, key_id, seal.KIND_CONFIG, t) for t in texts]
    small = seal.seal(key, key_id, seal.KIND_CONFIG, b"room=A")
    flipped = [f for _, f in flips(small)]
    truncated = [small[:n] for n in range(len(small))]
    out = on_panel(tmp_path, {
        "key": key.hex(), "key_id": key_id.hex(),
        "open": [s.hex() for s in host_sealed],
        "refuse": [f.hex() for f in flipped + truncated],
        "seal": [[seal.KIND_CONFIG if n % 2 else seal.KIND_TOKENS, t.hex()]
                 for n, t in zip(sizes, texts, strict=True)],
    })
    # host-sealed → the panel opens exactly the bytes
    assert [bytes.fromhex(x) for x in out["opened"]] == texts
    # panel-sealed → the host opens them, of the kind the panel gave
    for n, text, blob in zip(sizes, texts, out["sealed"], strict=True):
        kind = seal.KIND_CONFIG if n % 2 else seal.KIND_TOKENS
        assert seal.open_sealed(key, key_id, kind, bytes.fromhex(blob)) == text
    # every damaged file is refused with the same reason on both sides
    host_reasons = []
    for blob in flipped + truncated:
        try:
            seal.open_sealed(key, key_id, seal.KIND_CONFIG, blob)
            host_reasons.append("opened")
        except seal.SealError as e:
            host_reasons.append(e.reason)
    assert "opened" not in host_reasons
    assert out["reasons"] == host_reasons
