# Sealed files on the panel: the configuration the host pushes and the token store the panel
# keeps. The format is shared with the host (host_tools/lintel/seal.py) and described byte by
# byte in docs/sealed-config.md:
#
#   magic "LSEAL" | version | kind | key id (8) | kcv (4) | payload length (4, LE)
#   | IV (16) | AES-256-CBC ciphertext, PKCS#7 padded | HMAC-SHA256 tag (32)
#
# Encrypt-then-MAC with keys derived from the panel's 32-byte key; the tag is checked (in
# constant time) before anything is decrypted. cryptolib gives AES-CBC on every port (CTR is a
# build option), hashlib gives SHA-256; HMAC is built here (RFC 2104). Errors are SealError
# subclasses with a stable `reason`; no message holds key material or plaintext. Messages are
# plain ASCII: the panel's fonts have no other glyphs.
import binascii
import hashlib
import os
import struct
from micropython import const

import cryptolib

MAGIC = b"LSEAL"
VERSION = const(1)

KIND_CONFIG = const(1)
KIND_TOKENS = const(2)
KIND_SCHEDULE = const(3)
KIND_NAMES = {KIND_CONFIG: "panel configuration", KIND_TOKENS: "token store",
              KIND_SCHEDULE: "last good schedule"}

KEY_LEN = const(32)
KEY_ID_LEN = const(8)
KCV_LEN = const(4)
IV_LEN = const(16)
TAG_LEN = const(32)
HEADER_LEN = const(23)
MIN_LEN = const(87)  # header, IV, one padding block, tag

_BLOCK = const(16)
_HASH_BLOCK = const(64)
_MODE_CBC = const(2)
_HEADER = "<5sBB8s4sI"
_CT_AT = const(39)  # HEADER_LEN + IV_LEN

_ENC_LABEL = b"lintel-seal-v1 enc"
_MAC_LABEL = b"lintel-seal-v1 mac"
_KCV_LABEL = b"lintel-seal-v1 kcv"


class SealError(Exception):
    # A sealed file that cannot be opened: `reason` is a stable code, str(e) is for people.
    reason = "seal"


class Truncated(SealError):
    reason = "truncated"


class NotSealed(SealError):
    reason = "not_sealed"


class UnknownVersion(SealError):
    reason = "unknown_version"


class WrongKind(SealError):
    reason = "wrong_kind"


class OtherPanel(SealError):
    reason = "other_panel"


class WrongKey(SealError):
    reason = "wrong_key"


class Tampered(SealError):
    reason = "tampered"


def _hmac(key, parts):
    # HMAC-SHA256 (RFC 2104) over the concatenation of parts (bytes-likes, memoryviews too).
    if len(key) > _HASH_BLOCK:
        key = hashlib.sha256(key).digest()
    ipad = bytearray(b"\x36" * _HASH_BLOCK)
    opad = bytearray(b"\x5c" * _HASH_BLOCK)
    for i in range(len(key)):
        ipad[i] ^= key[i]
        opad[i] ^= key[i]
    h = hashlib.sha256(ipad)
    for part in parts:
        h.update(part)
    inner = h.digest()
    h = hashlib.sha256(opad)
    h.update(inner)
    return h.digest()


def hmac_sha256(key, msg):
    return _hmac(key, (msg,))


def _equal(a, b):
    # Constant-time comparison of two equal-length byte strings.
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def _hex(b):
    return binascii.hexlify(b).decode()


def _kind_name(kind):
    name = KIND_NAMES.get(kind)
    return name if name else "unknown kind %d" % kind


def _check_key(key, key_id):
    if len(key) != KEY_LEN:
        raise ValueError("a sealing key is 32 bytes")
    if len(key_id) != KEY_ID_LEN:
        raise ValueError("a key id is 8 bytes")


def new_key():
    # A fresh (key, key id). Panels normally get theirs from `lintel provision`.
    return os.urandom(KEY_LEN), os.urandom(KEY_ID_LEN)


def kcv(key):
    if len(key) != KEY_LEN:
        raise ValueError("a sealing key is 32 bytes")
    return hmac_sha256(key, _KCV_LABEL)[:KCV_LEN]


def _derive(key):
    return hmac_sha256(key, _ENC_LABEL), hmac_sha256(key, _MAC_LABEL)


def seal(key, key_id, kind, plaintext, iv=None):
    # The sealed bytes (a bytearray) of plaintext for this key; iv only for known-answer tests.
    _check_key(key, key_id)
    if kind not in KIND_NAMES:
        raise ValueError("unknown sealed-file kind %d" % kind)
    if iv is None:
        iv = os.urandom(IV_LEN)
    elif len(iv) != IV_LEN:
        raise ValueError("an IV is 16 bytes")
    enc_key, mac_key = _derive(key)
    n = len(plaintext)
    ct_len = (n // _BLOCK + 1) * _BLOCK
    tag_at = _CT_AT + ct_len
    out = bytearray(tag_at + TAG_LEN)
    view = memoryview(out)
    struct.pack_into(_HEADER, out, 0, MAGIC, VERSION, kind, bytes(key_id), kcv(key), n)
    view[HEADER_LEN:_CT_AT] = iv
    view[_CT_AT:_CT_AT + n] = plaintext
    pad = ct_len - n
    for i in range(_CT_AT + n, tag_at):
        out[i] = pad
    body = view[_CT_AT:tag_at]
    cryptolib.aes(enc_key, _MODE_CBC, iv).encrypt(body, body)  # in place
    view[tag_at:] = _hmac(mac_key, (view[:tag_at],))
    return out


def _read_header(view):
    if len(view) < HEADER_LEN:
        raise Truncated("the sealed file is truncated: %d bytes, a sealed file has at least %d"
                        % (len(view), MIN_LEN))
    magic, version, kind, key_id, check, length = struct.unpack_from(_HEADER, view, 0)
    if magic != MAGIC:
        raise NotSealed("not a sealed Lintel file")
    if version != VERSION:
        raise UnknownVersion("sealed with format version %d; this panel understands %d - "
                             "update it" % (version, VERSION))
    return kind, key_id, check, length


def key_id_of(data):
    # The key id a sealed file was sealed for.
    return _read_header(memoryview(data))[1]


def open_sealed(key, key_id, kind, data):
    # The plaintext (a bytearray the caller may wipe) of a sealed file of this kind for this
    # key, or the SealError saying why not. Memory: the result plus a few small buffers.
    _check_key(key, key_id)
    view = memoryview(data)
    found_kind, found_id, found_kcv, length = _read_header(view)
    if found_kind != kind:
        raise WrongKind("this is a sealed %s, not a %s"
                        % (_kind_name(found_kind), _kind_name(kind)))
    if found_id != bytes(key_id):
        raise OtherPanel("sealed for another panel (key id %s); this panel's key id is %s"
                         % (_hex(found_id), _hex(key_id)))
    if found_kcv != kcv(key):
        raise WrongKey("sealed with a different key of the same id: the panel was "
                       "re-provisioned or the inventory is out of date")
    ct_len = (length // _BLOCK + 1) * _BLOCK
    expected = _CT_AT + ct_len + TAG_LEN
    if len(view) < expected:
        raise Truncated("the sealed file is truncated: %d bytes, its header says %d"
                        % (len(view), expected))
    if len(view) > expected:
        raise Truncated("the sealed file's length does not match its header: %d bytes, the "
                        "header says %d" % (len(view), expected))
    enc_key, mac_key = _derive(key)
    tag_at = expected - TAG_LEN
    if not _equal(_hmac(mac_key, (view[:tag_at],)), view[tag_at:]):
        raise Tampered("the sealed file was changed or damaged: its authentication tag "
                       "does not match")
    aes = cryptolib.aes(enc_key, _MODE_CBC, view[HEADER_LEN:_CT_AT])
    out = bytearray(length)
    full = length - length % _BLOCK
    if full:
        aes.decrypt(view[_CT_AT:_CT_AT + full], memoryview(out)[:full])
    last = bytearray(_BLOCK)
    aes.decrypt(view[_CT_AT + full:tag_at], last)
    pad = ct_len - length
    bad = 0
    for i in range(_BLOCK - pad, _BLOCK):
        bad |= last[i] ^ pad
    if bad:
        raise Tampered("the sealed file was changed or damaged: its authentication tag "
                       "matches but its padding is invalid")
    out[full:] = last[:_BLOCK - pad]
    return out
