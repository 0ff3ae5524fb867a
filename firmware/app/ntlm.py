# NTLMv2 for HTTP authentication to on-premises Exchange (EWS), client side: the NEGOTIATE
# and AUTHENTICATE messages and the CHALLENGE between them, from [MS-NLMP] (sections named
# below). HTTP authentication only: no key exchange, signing or sealing follows, so the
# ExportedSessionKey is the SessionBaseKey and serves the MIC alone (3.1.5.1.2, 3.4.5.1).
#
# MicroPython's hashlib has md5 but no md4 and there is no hmac module: MD4 (RFC 1320) and
# HMAC-MD5 (RFC 2104) are built here. There is no "utf-16-le" codec either (_utf16), and
# str.upper() only knows ASCII (_upper). No I/O: runs under CPython too. Errors about the
# server's CHALLENGE are NtlmError with words; no message ever holds a password, hash or key.
import hashlib
import os
import struct

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

# NegotiateFlags, MS-NLMP 2.2.2.5 (bit letters as there).
_UNICODE = const(0x00000001)  # A: strings in UTF-16LE
_REQUEST_TARGET = const(0x00000004)  # C: the server names its realm (TargetName)
_NTLM = const(0x00000200)  # H: NTLM v1/v2 session security
_ALWAYS_SIGN = const(0x00008000)  # M
_EXTENDED_SESSIONSECURITY = const(0x00080000)  # P
_TARGET_INFO = const(0x00800000)  # S: the CHALLENGE carries TargetInfo (AV pairs)
_128 = const(0x20000000)  # U: inert without signing or sealing; as Windows clients send it
_56 = const(0x80000000)  # W: likewise
NEGOTIATE_FLAGS = (_UNICODE | _REQUEST_TARGET | _NTLM | _ALWAYS_SIGN | _EXTENDED_SESSIONSECURITY
                   | _TARGET_INFO | _128 | _56)

_SIGNATURE = b"NTLMSSP\x00"  # 2.2.1.1-2.2.1.3: every message starts with it
_CHALLENGE_MIN = const(48)  # 2.2.1.2: Signature 8, MessageType 4, TargetNameFields 8, flags 4,
# ServerChallenge 8 (at 24), Reserved 8, TargetInfoFields 8 (at 40); Version 8 may follow
_AUTH_HEADER = const(88)  # 2.2.1.3: the fields to 64, Version 8 (at 64), MIC 16 (at 72)
_MIC_AT = const(72)

# AV_PAIR ids, 2.2.2.1.
_AV_EOL = const(0)
_AV_FLAGS = const(6)  # a 32-bit value; 0x2: the AUTHENTICATE carries a MIC
_AV_TIMESTAMP = const(7)  # a FILETIME (8 bytes)
_AV_FLAG_MIC = const(0x00000002)

_FILETIME_1970 = 11644473600  # seconds from 1601-01-01 (FILETIME's epoch) to 1970-01-01
_MASK = const(0xFFFFFFFF)


class NtlmError(ValueError):
    # A CHALLENGE (or WWW-Authenticate value) this client cannot use. `words` is a sentence
    # for people; it names what is wrong with the server's message, never a secret.
    def __init__(self, words):
        super().__init__(words)
        self.words = words


# --- MD4, RFC 1320 -------------------------------------------------------------------------

# Per step of the 48 (RFC 1320 3.4): the word X[k] and the shift s; rounds of 16 steps.
_K = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,  # round 1
      0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,  # round 2
      0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)  # round 3
_S = ((3, 7, 11, 19), (3, 5, 9, 13), (3, 9, 11, 15))


def md4(data):
    """The 16-byte MD4 digest of data (RFC 1320)."""
    n = len(data)
    # 3.1-3.2: a 1 bit, zeros to 56 mod 64 bytes, the length in bits (64-bit little-endian).
    msg = bytes(data) + b"\x80" + bytes((55 - n) % 64) + struct.pack("<Q", n * 8)
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]  # 3.3: A, B, C, D
    for at in range(0, len(msg), 64):
        x = struct.unpack_from("<16I", msg, at)
        a, b, c, d = h
        for i in range(48):
            r = i >> 4
            if r == 0:  # F(X,Y,Z) = XY v not(X) Z
                f = (b & c) | (~b & d)
            elif r == 1:  # G(X,Y,Z) = XY v XZ v YZ, plus 5A827999
                f = ((b & c) | (b & d) | (c & d)) + 0x5A827999
            else:  # H(X,Y,Z) = X xor Y xor Z, plus 6ED9EBA1
                f = (b ^ c ^ d) + 0x6ED9EBA1
            t = (a + f + x[_K[i]]) & _MASK
            s = _S[r][i & 3]
            # [abcd k s]: a = (a + f(b,c,d) + X[k]) <<< s; the next step's a is this d, and
            # so on round the registers ([dabc k s], [cdab k s], [bcda k s]).
            a, b, c, d = d, ((t << s) | (t >> (32 - s))) & _MASK, b, c
        h = [(h[0] + a) & _MASK, (h[1] + b) & _MASK, (h[2] + c) & _MASK, (h[3] + d) & _MASK]
    return struct.pack("<4I", h[0], h[1], h[2], h[3])  # 3.5: A, B, C, D, low byte first


# --- HMAC-MD5, RFC 2104 --------------------------------------------------------------------

def hmac_md5(key, data):
    """HMAC-MD5 of data under key (RFC 2104; B = 64, L = 16)."""
    if len(key) > 64:
        key = hashlib.md5(key).digest()
    key = bytes(key) + bytes(64 - len(key))
    inner = hashlib.md5(bytes(k ^ 0x36 for k in key))
    inner.update(data)
    outer = hashlib.md5(bytes(k ^ 0x5C for k in key))
    outer.update(inner.digest())
    return outer.digest()


# --- Strings ------------------------------------------------------------------------------

def _utf16(text):
    # text in UTF-16LE; characters beyond the BMP as surrogate pairs.
    out = bytearray()
    for ch in text:
        c = ord(ch)
        if c > 0xFFFF:
            c -= 0x10000
            out += struct.pack("<HH", 0xD800 | (c >> 10), 0xDC00 | (c & 0x3FF))
        else:
            out.append(c & 0xFF)
            out.append(c >> 8)
    return bytes(out)


def _upper(text):
    # Uppercase(User) of NTOWFv2 (3.3.2), one character for one as Windows maps them, for
    # ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic (MicroPython's upper() knows ASCII
    # only; CPython's would turn "ß" into "SS"); other characters are kept as they are.
    out = []
    for ch in text:
        c = ord(ch)
        if 0x61 <= c <= 0x7A or 0xE0 <= c <= 0xFE and c != 0xF7 or 0x430 <= c <= 0x44F \
                or 0x3B1 <= c <= 0x3CB and c != 0x3C2:
            c -= 0x20
        elif 0x450 <= c <= 0x45F:
            c -= 0x50
        elif c == 0xFF:
            c = 0x178
        elif c == 0x3C2:  # final sigma
            c = 0x3A3
        elif c & 1 and (0x100 <= c <= 0x12F or 0x132 <= c <= 0x137 or 0x14A <= c <= 0x177):
            c -= 1  # pairs: capital even, small odd
        elif not c & 1 and (0x139 <= c <= 0x148 or 0x179 <= c <= 0x17E):
            c -= 1  # pairs: capital odd, small even
        out.append(chr(c))
    return "".join(out)


# --- Messages -----------------------------------------------------------------------------

def negotiate():
    """The NEGOTIATE_MESSAGE (2.2.1.1): no domain or workstation supplied, Version zero (the
    NEGOTIATE_VERSION flag is not set)."""
    return _SIGNATURE + struct.pack("<II", 1, NEGOTIATE_FLAGS) + _fields(0, 40) + _fields(0, 40) \
        + bytes(8)


def _fields(length, offset):
    # A message's *Fields (2.2.1.1): Len, MaxLen (16 bits each), BufferOffset (32 bits).
    return struct.pack("<HHI", length, length, offset)


def _payload(msg, at, what):
    # The bytes named by the *Fields at `at`, or NtlmError if they lie outside the message.
    length, _, offset = struct.unpack_from("<HHI", msg, at)
    if offset + length > len(msg):
        raise NtlmError("The server's NTLM challenge is malformed: its %s lies outside the "
                        "message." % what)
    return msg[offset:offset + length]


def _parse_challenge(msg):
    # (flags, ServerChallenge, AV pairs as [(id, value)] without MsvAvEOL) of a CHALLENGE.
    if len(msg) < _CHALLENGE_MIN:
        raise NtlmError("The server's NTLM challenge is too short (%d bytes)." % len(msg))
    if msg[:8] != _SIGNATURE:
        raise NtlmError("The server's answer is not an NTLM message.")
    if struct.unpack_from("<I", msg, 8)[0] != 2:
        raise NtlmError("The server sent an NTLM message that is not a challenge.")
    flags = struct.unpack_from("<I", msg, 20)[0]
    if not flags & _UNICODE:
        raise NtlmError("The server's NTLM challenge does not accept Unicode names.")
    info = _payload(msg, 40, "target information")
    if not info:
        raise NtlmError("The server's NTLM challenge has no target information: the server "
                        "may allow only NTLMv1, which this panel does not speak.")
    pairs = []
    at = 0
    while True:  # AV_PAIRs up to MsvAvEOL, 2.2.2.1
        if at + 4 > len(info):
            raise NtlmError("The server's NTLM challenge is malformed: its target information "
                            "does not end properly.")
        av_id, av_len = struct.unpack_from("<HH", info, at)
        if av_id == _AV_EOL:
            return flags, bytes(msg[24:32]), pairs
        value = info[at + 4:at + 4 + av_len]
        if len(value) != av_len or (av_id == _AV_FLAGS and av_len != 4) \
                or (av_id == _AV_TIMESTAMP and av_len != 8):
            raise NtlmError("The server's NTLM challenge is malformed: an entry of its target "
                            "information has a wrong length.")
        pairs.append((av_id, bytes(value)))
        at += 4 + av_len


def _ntowfv2(user, domain, password):
    # 3.3.2: NTOWFv2 = HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(ConcatenationOf(
    # Uppercase(User), UserDom))); LMOWFv2 is the same.
    return hmac_md5(md4(_utf16(password)), _utf16(_upper(user) + domain))


def authenticate(negotiate_msg, challenge_msg, user, domain, password, workstation="",
                 client_challenge=None, now=None):
    """The AUTHENTICATE_MESSAGE (2.2.1.3) answering challenge_msg (the CHALLENGE's bytes) with
    an NTLMv2 response (3.3.2). negotiate_msg: the bytes sent first (negotiate()), for the
    MIC. user: a name with domain, or a UPN (user@example.com) with domain "". now: Unix
    seconds, used only when the server sends no time; client_challenge: 8 bytes, random
    unless given (tests). NtlmError if the CHALLENGE cannot be used."""
    flags, server_challenge, pairs = _parse_challenge(challenge_msg)
    if client_challenge is None:
        client_challenge = os.urandom(8)
    stamp = None
    for av_id, value in pairs:
        if av_id == _AV_TIMESTAMP:
            stamp = value
    mic = stamp is not None
    # 3.1.5.1.2: with the server's MsvAvTimestamp, Time is that value, the LmChallengeResponse
    # is Z(24), and a MIC is sent, announced by 0x2 in MsvAvFlags (the pair added if absent).
    if mic:
        flagged = False
        for i in range(len(pairs)):
            if pairs[i][0] == _AV_FLAGS:
                value = struct.unpack("<I", pairs[i][1])[0] | _AV_FLAG_MIC
                pairs[i] = (_AV_FLAGS, struct.pack("<I", value))
                flagged = True
        if not flagged:
            pairs.append((_AV_FLAGS, struct.pack("<I", _AV_FLAG_MIC)))
    else:
        if now is None:
            from app.clock import now as clock_now
            now = clock_now()
        stamp = struct.pack("<Q", (int(now) + _FILETIME_1970) * 10000000)  # FILETIME

    # ServerName of 3.3.2: the AV pairs and MsvAvEOL. temp = RespType 1, HiRespType 1, Z(6),
    # Time, ClientChallenge, Z(4), ServerName, Z(4) (2.2.2.7 NTLMv2_CLIENT_CHALLENGE).
    client_challenge = bytes(client_challenge)
    temp = bytearray(b"\x01\x01" + bytes(6) + stamp + client_challenge + bytes(4))
    for av_id, value in pairs:
        temp += struct.pack("<HH", av_id, len(value))
        temp += value
    temp += bytes(8)  # MsvAvEOL, Z(4)
    key = _ntowfv2(user, domain, password)  # ResponseKeyNT = ResponseKeyLM
    proof = hmac_md5(key, server_challenge + temp)  # NTProofStr
    nt_response = proof + temp  # NTLMv2_RESPONSE, 2.2.2.8
    if mic:
        lm_response = bytes(24)
    else:  # LMv2_RESPONSE, 2.2.2.4
        lm_response = hmac_md5(key, server_challenge + client_challenge) + client_challenge
    session_key = hmac_md5(key, proof)  # SessionBaseKey = KeyExchangeKey = ExportedSessionKey

    # 2.2.1.3: the header (its *Fields in the order Lm, Nt, DomainName, UserName, Workstation,
    # EncryptedRandomSessionKey), then the payload in the order of 4.2.4.3's example.
    b_domain, b_user, b_workstation = _utf16(domain), _utf16(user), _utf16(workstation)
    at_lm = _AUTH_HEADER + len(b_domain) + len(b_user) + len(b_workstation)
    at_nt = at_lm + len(lm_response)
    end = at_nt + len(nt_response)
    msg = bytearray(_SIGNATURE + struct.pack("<I", 3))
    msg += _fields(len(lm_response), at_lm)
    msg += _fields(len(nt_response), at_nt)
    msg += _fields(len(b_domain), _AUTH_HEADER)
    msg += _fields(len(b_user), _AUTH_HEADER + len(b_domain))
    msg += _fields(len(b_workstation), _AUTH_HEADER + len(b_domain) + len(b_user))
    msg += _fields(0, end)  # no EncryptedRandomSessionKey: no key exchange
    msg += struct.pack("<I", flags & NEGOTIATE_FLAGS)
    msg += bytes(24)  # Version (zero: NEGOTIATE_VERSION is not sent), MIC (set below)
    msg += b_domain
    msg += b_user
    msg += b_workstation
    msg += lm_response
    msg += nt_response
    if mic:  # 3.1.5.1.2: HMAC_MD5(ExportedSessionKey, NEGOTIATE, CHALLENGE, AUTHENTICATE)
        msg[_MIC_AT:_MIC_AT + 16] = hmac_md5(session_key, bytes(negotiate_msg)
                                             + bytes(challenge_msg) + msg)
    return bytes(msg)


def header_challenge(value):
    """The CHALLENGE bytes of a WWW-Authenticate value such as "NTLM TlRMTVNT..." (schemes
    may be comma-joined: "Negotiate, NTLM TlRM..."), or None when it carries none (a bare
    "NTLM" only offers the scheme). NtlmError if the NTLM token is not base64."""
    import binascii

    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode()
    for part in value.split(","):
        words = part.split()
        if len(words) == 2 and words[0].lower() == "ntlm":
            try:
                return binascii.a2b_base64(words[1])
            except ValueError:
                raise NtlmError("The server's NTLM challenge is not valid base64.") from None
    return None
