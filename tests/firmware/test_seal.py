# app.seal on the panel: HMAC-SHA256 against RFC 4231, the shared known-answer vector, round
# trips and every refusal, each with its own class and reason.
import binascii
import struct

import cryptolib

from app import seal

KEY = bytes(range(32))
KEY_ID = b"LINTEL01"
IV = bytes(range(0xF0, 0x100))
PLAINTEXT = b'{"room":"Lintel known-answer test"}'
# The same vector is checked by tests/test_seal.py on the host and printed in
# docs/sealed-config.md: the two implementations cannot drift apart.
KNOWN = binascii.unhexlify(
    "4c5345414c01014c494e54454c303157d43fbb23000000f0f1f2f3f4f5f6f7f8"
    "f9fafbfcfdfeff38219997f647ac10ec22f87fd542e70ad7acc5d3ee1699e608"
    "a26a6f1cbdfca848f2fd2f29728295858060d0bfdc61a396d90cc6704c58cac2"
    "866692872deacd0d187b28f0e37be9db878511d4be1302")

OTHER_KEY = bytes(range(100, 132))
OTHER_ID = b"OTHER-01"

ERRORS = (seal.Truncated, seal.NotSealed, seal.UnknownVersion, seal.WrongKind,
          seal.OtherPanel, seal.WrongKey, seal.Tampered)


def _refusal(data, key=KEY, key_id=KEY_ID, kind=seal.KIND_CONFIG):
    # The SealError open_sealed raises (any other exception propagates and fails the test).
    try:
        seal.open_sealed(key, key_id, kind, data)
    except seal.SealError as e:
        return e
    raise AssertionError("opened a file that should have been refused")


def _check_words(e):
    # Every refusal is one of the documented classes, with its reason and no secrets.
    assert type(e) in ERRORS, repr(e)
    assert e.reason == {seal.Truncated: "truncated", seal.NotSealed: "not_sealed",
                        seal.UnknownVersion: "unknown_version", seal.WrongKind: "wrong_kind",
                        seal.OtherPanel: "other_panel", seal.WrongKey: "wrong_key",
                        seal.Tampered: "tampered"}[type(e)]
    text = str(e)
    assert text
    for secret in (KEY, OTHER_KEY, PLAINTEXT, seal._derive(KEY)[0], seal._derive(KEY)[1]):
        hexed = binascii.hexlify(secret).decode()
        assert hexed not in text and hexed[:16] not in text, text
    assert "Lintel known-answer" not in text, text


def test_hmac_sha256_rfc4231():
    cases = (
        (b"\x0b" * 20, b"Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (b"Jefe", b"what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (b"\xaa" * 20, b"\xdd" * 50,
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (bytes(range(1, 26)), b"\xcd" * 50,
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger "
         b"than block-size data. The key needs to be hashed before being used by the HMAC "
         b"algorithm.",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    )
    for key, msg, expected in cases:
        assert binascii.hexlify(seal.hmac_sha256(key, msg)).decode() == expected, msg
        # memoryview input, as open_sealed passes it
        assert seal.hmac_sha256(key, memoryview(msg)) == binascii.unhexlify(expected)


def test_known_answer_vector():
    assert seal.seal(KEY, KEY_ID, seal.KIND_CONFIG, PLAINTEXT, IV) == KNOWN
    assert seal.open_sealed(KEY, KEY_ID, seal.KIND_CONFIG, KNOWN) == PLAINTEXT
    assert seal.kcv(KEY) == binascii.unhexlify("57d43fbb")
    assert seal.key_id_of(KNOWN) == KEY_ID


def test_round_trip_every_padding_and_large_sizes():
    for kind in (seal.KIND_CONFIG, seal.KIND_TOKENS):
        for n in list(range(0, 49)) + [4096, 16383, 16384]:
            plaintext = bytes((i * 7 + n) & 0xFF for i in range(n))
            sealed = seal.seal(KEY, KEY_ID, kind, plaintext)
            assert len(sealed) == seal.MIN_LEN + (n // 16) * 16
            opened = seal.open_sealed(KEY, KEY_ID, kind, sealed)
            assert opened == plaintext and isinstance(opened, bytearray)
            # bytes in, memoryview in: the same
            assert seal.open_sealed(KEY, KEY_ID, kind, memoryview(bytes(sealed))) == plaintext


def test_a_fresh_iv_every_time():
    a = seal.seal(KEY, KEY_ID, seal.KIND_TOKENS, PLAINTEXT)
    b = seal.seal(KEY, KEY_ID, seal.KIND_TOKENS, PLAINTEXT)
    assert a[23:39] != b[23:39] and a != b


def test_new_key():
    key, key_id = seal.new_key()
    assert len(key) == 32 and len(key_id) == 8 and seal.new_key()[0] != key
    assert seal.open_sealed(key, key_id, 1, seal.seal(key, key_id, 1, b"x")) == b"x"


def test_each_refusal_is_distinct():
    e = _refusal(KNOWN[:10])
    assert type(e) is seal.Truncated and str(e) == (
        "the sealed file is truncated: 10 bytes, a sealed file has at least 87")
    e = _refusal(b"PK\x03\x04" + KNOWN[4:])
    assert type(e) is seal.NotSealed and str(e) == "not a sealed Lintel file"
    e = _refusal(KNOWN[:5] + b"\x02" + KNOWN[6:])
    assert type(e) is seal.UnknownVersion and str(e) == (
        "sealed with format version 2; this panel understands 1 - update it")
    e = _refusal(KNOWN, kind=seal.KIND_TOKENS)
    assert type(e) is seal.WrongKind and str(e) == (
        "this is a sealed panel configuration, not a token store")
    e = _refusal(KNOWN, key=OTHER_KEY, key_id=OTHER_ID)
    assert type(e) is seal.OtherPanel and str(e) == (
        "sealed for another panel (key id 4c494e54454c3031); this panel's key id is "
        "4f544845522d3031")
    e = _refusal(KNOWN, key=OTHER_KEY)
    assert type(e) is seal.WrongKey and str(e) == (
        "sealed with a different key of the same id: the panel was re-provisioned or the "
        "inventory is out of date")
    e = _refusal(KNOWN[:-1])
    assert type(e) is seal.Truncated and str(e) == (
        "the sealed file is truncated: 118 bytes, its header says 119")
    e = _refusal(KNOWN + b"\x00")
    assert type(e) is seal.Truncated and "120 bytes, the header says 119" in str(e)
    e = _refusal(KNOWN[:-1] + bytes([KNOWN[-1] ^ 1]))
    assert type(e) is seal.Tampered and str(e) == (
        "the sealed file was changed or damaged: its authentication tag does not match")
    for e in (_refusal(KNOWN[:10]), _refusal(b"PK\x03\x04" + KNOWN[4:]),
              _refusal(KNOWN, key=OTHER_KEY, key_id=OTHER_ID), _refusal(KNOWN, key=OTHER_KEY),
              _refusal(KNOWN, kind=seal.KIND_TOKENS), _refusal(KNOWN[:-1])):
        _check_words(e)


def test_bad_padding_behind_a_good_tag_is_tampered():
    # Only a holder of the key can make this; the panel still refuses it.
    enc_key, mac_key = seal._derive(KEY)
    body = bytearray(b"x" * 13 + b"\x03\x03\x04")  # claims 13 bytes, padding is wrong
    cryptolib.aes(enc_key, 2, IV).encrypt(body, body)
    head = struct.pack("<5sBB8s4sI", b"LSEAL", 1, 1, KEY_ID, seal.kcv(KEY), 13) + IV + body
    e = _refusal(head + seal.hmac_sha256(mac_key, head))
    assert type(e) is seal.Tampered and "padding" in str(e)
    _check_words(e)


def test_truncated_at_every_length():
    for n in range(len(KNOWN)):
        e = _refusal(KNOWN[:n])
        assert type(e) is seal.Truncated, (n, e)
        _check_words(e)


def test_every_bit_flip_is_refused_with_a_documented_error():
    small = seal.seal(KEY, KEY_ID, seal.KIND_CONFIG, b"room=A", IV)
    seen = set()
    for bit in range(len(small) * 8):
        flipped = bytearray(small)
        flipped[bit // 8] ^= 1 << (bit % 8)
        e = _refusal(flipped)
        _check_words(e)
        seen.add(e.reason)
    assert seen == {"not_sealed", "unknown_version", "wrong_kind", "other_panel", "wrong_key",
                    "truncated", "tampered"}, seen


def test_seal_rejects_bad_arguments():
    for args in ((KEY[:16], KEY_ID, 1, b""), (KEY, KEY_ID[:4], 1, b""), (KEY, KEY_ID, 9, b"")):
        try:
            seal.seal(*args)
        except ValueError:
            continue
        raise AssertionError(args)
