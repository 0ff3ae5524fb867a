"""Sealed files: the panel's configuration and token store, encrypted and authenticated.

One format shared with the panel (`firmware/app/seal.py`), described byte by byte in
docs/sealed-config.md:

    magic "LSEAL" | version | kind | key id (8) | kcv (4) | payload length (4, LE)
    | IV (16) | AES-256-CBC ciphertext, PKCS#7 padded | HMAC-SHA256 tag (32)

Encrypt-then-MAC under two keys derived from the panel's 32-byte key K; the tag covers
everything before it and is checked before anything is decrypted. Errors are distinct
`SealError` subclasses with a `reason` code; no message ever holds key material or plaintext.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MAGIC = b"LSEAL"
VERSION = 1

KIND_CONFIG = 1
KIND_TOKENS = 2
KIND_SCHEDULE = 3  # the panel's own: the last calendar it read, for the offline screen
KIND_NAMES = {KIND_CONFIG: "panel configuration", KIND_TOKENS: "token store",
              KIND_SCHEDULE: "last good schedule"}

KEY_LEN = 32
KEY_ID_LEN = 8
KCV_LEN = 4
IV_LEN = 16
BLOCK = 16
TAG_LEN = 32

_HEADER = struct.Struct("<5sBB8s4sI")
HEADER_LEN = _HEADER.size  # 23
# The smallest sealed file: header, IV, one padding block, tag.
MIN_LEN = HEADER_LEN + IV_LEN + BLOCK + TAG_LEN  # 87
MAX_PAYLOAD = 0xFFFFFFFF

_ENC_LABEL = b"lintel-seal-v1 enc"
_MAC_LABEL = b"lintel-seal-v1 mac"
_KCV_LABEL = b"lintel-seal-v1 kcv"


class SealError(Exception):
    """A sealed file that cannot be opened; `reason` is a stable code, the message is for people."""

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


def _hmac(key: bytes, *parts: bytes | memoryview) -> bytes:
    h = hmac.HMAC(key, hashes.SHA256())
    for part in parts:
        h.update(part)
    return h.finalize()


def _check_key(key: bytes, key_id: bytes) -> None:
    if len(key) != KEY_LEN:
        raise ValueError(f"a sealing key is {KEY_LEN} bytes, not {len(key)}")
    if len(key_id) != KEY_ID_LEN:
        raise ValueError(f"a key id is {KEY_ID_LEN} bytes, not {len(key_id)}")


def _kind_name(kind: int) -> str:
    return KIND_NAMES.get(kind, f"unknown kind {kind}")


def new_key() -> tuple[bytes, bytes]:
    """A fresh panel key and key id, from the operating system's random source."""
    return os.urandom(KEY_LEN), os.urandom(KEY_ID_LEN)


def kcv(key: bytes) -> bytes:
    """The key check value: 4 bytes that tell two keys apart without revealing either."""
    if len(key) != KEY_LEN:
        raise ValueError(f"a sealing key is {KEY_LEN} bytes, not {len(key)}")
    return _hmac(key, _KCV_LABEL)[:KCV_LEN]


def _derive(key: bytes) -> tuple[bytes, bytes]:
    return _hmac(key, _ENC_LABEL), _hmac(key, _MAC_LABEL)


def seal(key: bytes, key_id: bytes, kind: int, plaintext: bytes, *,
         iv: bytes | None = None) -> bytes:
    """Seal `plaintext` for the panel holding `key`/`key_id`; `iv` only for known-answer tests."""
    _check_key(key, key_id)
    if kind not in KIND_NAMES:
        raise ValueError(f"unknown sealed-file kind {kind}")
    if len(plaintext) > MAX_PAYLOAD:
        raise ValueError("payload too large to seal")
    if iv is None:
        iv = os.urandom(IV_LEN)
    elif len(iv) != IV_LEN:
        raise ValueError(f"an IV is {IV_LEN} bytes, not {len(iv)}")
    enc_key, mac_key = _derive(key)
    header = _HEADER.pack(MAGIC, VERSION, kind, bytes(key_id), kcv(key), len(plaintext))
    padder = padding.PKCS7(BLOCK * 8).padder()
    padded = padder.update(bytes(plaintext)) + padder.finalize()
    encryptor = Cipher(algorithms.AES(enc_key), modes.CBC(bytes(iv))).encryptor()
    body = header + bytes(iv) + encryptor.update(padded) + encryptor.finalize()
    return body + _hmac(mac_key, body)


def _read_header(data: bytes | bytearray | memoryview) -> tuple[int, bytes, bytes, int]:
    """(kind, key id, kcv, payload length) after the truncation, magic and version checks."""
    if len(data) < HEADER_LEN:
        raise Truncated(f"the sealed file is truncated: {len(data)} bytes, "
                        f"a sealed file has at least {MIN_LEN}")
    magic, version, kind, key_id, check, length = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise NotSealed("not a sealed Lintel file")
    if version != VERSION:
        raise UnknownVersion(f"sealed with format version {version}; this tool understands "
                             f"{VERSION} — update it")
    return kind, key_id, check, length


def key_id_of(data: bytes | bytearray | memoryview) -> bytes:
    """The key id a sealed file was sealed for (to find the panel in the inventory)."""
    return _read_header(data)[1]


def open_sealed(key: bytes, key_id: bytes, kind: int,
                data: bytes | bytearray | memoryview) -> bytes:
    """The plaintext of a sealed file of `kind` for this key, or the SealError saying why not."""
    _check_key(key, key_id)
    view = memoryview(data).cast("B")
    found_kind, found_id, found_kcv, length = _read_header(view)
    if found_kind != kind:
        raise WrongKind(f"this is a sealed {_kind_name(found_kind)}, "
                        f"not a {_kind_name(kind)}")
    if found_id != bytes(key_id):
        raise OtherPanel(f"sealed for another panel (key id {found_id.hex()}); "
                         f"this panel's key id is {bytes(key_id).hex()}")
    if found_kcv != kcv(key):
        raise WrongKey("sealed with a different key of the same id: the panel was "
                       "re-provisioned or the inventory is out of date")
    ct_len = (length // BLOCK + 1) * BLOCK
    expected = HEADER_LEN + IV_LEN + ct_len + TAG_LEN
    if len(view) < expected:
        raise Truncated(f"the sealed file is truncated: {len(view)} bytes, its header "
                        f"says {expected}")
    if len(view) > expected:
        raise Truncated(f"the sealed file's length does not match its header: {len(view)} "
                        f"bytes, the header says {expected}")
    enc_key, mac_key = _derive(key)
    tag_at = len(view) - TAG_LEN
    h = hmac.HMAC(mac_key, hashes.SHA256())
    h.update(view[:tag_at])
    try:
        h.verify(bytes(view[tag_at:]))  # constant-time comparison
    except InvalidSignature:
        raise Tampered("the sealed file was changed or damaged: its authentication tag "
                       "does not match") from None
    iv = bytes(view[HEADER_LEN:HEADER_LEN + IV_LEN])
    decryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(view[HEADER_LEN + IV_LEN:tag_at]) + decryptor.finalize()
    pad = ct_len - length
    if padded[length:] != bytes([pad]) * pad:
        raise Tampered("the sealed file was changed or damaged: its authentication tag "
                       "matches but its padding is invalid")
    return padded[:length]
