# app.ntlm inside the Unix-port MicroPython: MD4 (RFC 1320 A.5) and HMAC-MD5 (RFC 2202)
# known answers, the NTLMv2 example of MS-NLMP 4.2.4 through the whole AUTHENTICATE message,
# UTF-16LE and upper-casing of names, the server's time and the MIC, every truncation and bad
# offset of a CHALLENGE (NtlmError with words, never another exception), WWW-Authenticate.
# The MIC itself, and the messages as a whole, are checked by an independent acceptor in
# tests/test_ntlm_interop.py.
import binascii
import random
import struct

from app import clock, ntlm

PASSWORD = "Fake-Pass-4711"  # no error message may repeat it


def unhex(text):
    return binascii.unhexlify(text.replace(" ", ""))


def hexof(data):
    return binascii.hexlify(data).decode()


def field(msg, at):
    # The payload named by the *Fields (Len, MaxLen, BufferOffset) at `at`.
    length, max_length, offset = struct.unpack_from("<HHI", msg, at)
    assert length == max_length
    assert offset + length <= len(msg)
    return msg[offset:offset + length]


def av_pairs(info):
    # [(id, value)] up to and including MsvAvEOL.
    pairs, at = [], 0
    while True:
        av_id, av_len = struct.unpack_from("<HH", info, at)
        pairs.append((av_id, info[at + 4:at + 4 + av_len]))
        if av_id == 0:
            return pairs
        at += 4 + av_len


def raises_ntlm(fn, *args):
    try:
        fn(*args)
    except ntlm.NtlmError as e:
        assert e.words and str(e) == e.words
        assert PASSWORD not in e.words
        return e
    raise AssertionError("no NtlmError")


# --- MD4, HMAC-MD5 ------------------------------------------------------------------------

def test_md4_rfc1320_a5():
    vectors = [
        (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
        (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
        (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
        (b"message digest", "d9130a8164549fe818874806e1c7014b"),
        (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
        (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "043f8582f241db351ce627e153e7f0e4"),
        (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536"),
    ]
    for data, want in vectors:
        assert hexof(ntlm.md4(data)) == want, data
        assert hexof(ntlm.md4(bytearray(data))) == want


def test_hmac_md5_rfc2202():
    vectors = [
        (b"\x0b" * 16, b"Hi There", "9294727a3638bb1c13f48ef8158bfc9d"),
        (b"Jefe", b"what do ya want for nothing?", "750c783e6ab0b503eaa86e310a5db738"),
        (b"\xaa" * 16, b"\xdd" * 50, "56be34521d144c88dbb8c733f0e8b3f6"),
        (bytes(range(1, 26)), b"\xcd" * 50, "697eaf0aca3a3aea3a75164746ffaa79"),
        (b"\x0c" * 16, b"Test With Truncation", "56461ef2342edc00f9bab995690efd4c"),
        (b"\xaa" * 80, b"Test Using Larger Than Block-Size Key - Hash Key First",
         "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"),
        (b"\xaa" * 80,
         b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
         "6f630fad67cda0ee1fb1f562db3aa53e"),
    ]
    for key, data, want in vectors:
        assert hexof(ntlm.hmac_md5(key, data)) == want, want


# --- MS-NLMP 4.2.4 ------------------------------------------------------------------------

# 4.2.4.3's CHALLENGE_MESSAGE: flags e28a8233, ServerChallenge 0123456789abcdef (4.2.1),
# TargetName "Server", TargetInfo MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server",
# MsvAvEOL (no MsvAvTimestamp: an LMv2 response and no MIC).
SPEC_CHALLENGE = unhex(
    "4e544c4d53535000 02000000 0c000c00 38000000 33828ae2 0123456789abcdef 0000000000000000"
    " 24002400 44000000 060200000000000f 530065007200760065007200"
    " 02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000")
SPEC_TIME = -11644473600  # Unix seconds of FILETIME 0, 4.2.1's Time
SPEC_CLIENT_CHALLENGE = b"\xaa" * 8
SPEC_NTOWFV2 = "0c868a403bfd7a93a3001ef22ef02e3f"  # 4.2.4.1.1
SPEC_SESSION_BASE_KEY = "8de40ccadbc14a82f15cb0ad0de95ca3"  # 4.2.4.1.2
SPEC_LMV2 = "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"  # 4.2.4.2.1
SPEC_NTLMV2 = (  # 4.2.4.2.2: NTProofStr, then temp
    "68cd0ab851e51c96aabc927bebef6a1c 01010000000000000000000000000000 aaaaaaaaaaaaaaaa00000000"
    " 02000c0044006f006d00610069006e00 01000c00530065007200760065007200 0000000000000000")


def spec_authenticate():
    return ntlm.authenticate(ntlm.negotiate(), SPEC_CHALLENGE, "User", "Domain", "Password",
                             "COMPUTER", SPEC_CLIENT_CHALLENGE, SPEC_TIME)


def test_ms_nlmp_4_2_4_responses():
    assert len(SPEC_CHALLENGE) == 0x68
    msg = spec_authenticate()
    assert msg[:12] == b"NTLMSSP\x00\x03\x00\x00\x00"
    assert hexof(field(msg, 12)) == SPEC_LMV2
    assert hexof(field(msg, 20)) == SPEC_NTLMV2.replace(" ", "")
    assert field(msg, 28) == b"D\x00o\x00m\x00a\x00i\x00n\x00"
    assert field(msg, 36) == b"U\x00s\x00e\x00r\x00"
    assert field(msg, 44) == b"C\x00O\x00M\x00P\x00U\x00T\x00E\x00R\x00"
    assert field(msg, 52) == b""  # no EncryptedRandomSessionKey: no key exchange
    flags = struct.unpack_from("<I", msg, 60)[0]
    assert flags & 0x00000001 and flags & 0x00080000  # UNICODE, EXTENDED_SESSIONSECURITY
    assert not flags & 0x40000000  # no KEY_EXCH
    assert msg[64:88] == bytes(24)  # Version zero, no MIC without MsvAvTimestamp


def test_ms_nlmp_4_2_4_keys():
    assert hexof(ntlm._ntowfv2("User", "Domain", "Password")) == SPEC_NTOWFV2
    proof = unhex(SPEC_NTLMV2)[:16]
    assert hexof(ntlm.hmac_md5(unhex(SPEC_NTOWFV2), proof)) == SPEC_SESSION_BASE_KEY
    # 4.2.2.1.2: NTOWFv1("Password"), the MD4 under NTOWFv2
    assert hexof(ntlm.md4(ntlm._utf16("Password"))) == "a4f49c406510bdcab6824ee7c30fd852"


def test_known_answer_can_fail():
    # The same example with one thing changed gives other responses.
    good = field(spec_authenticate(), 20)
    for args in [("User", "Domain", "Passwore"), ("User", "DOMAIN", "Password"),
                 ("Users", "Domain", "Password")]:
        msg = ntlm.authenticate(ntlm.negotiate(), SPEC_CHALLENGE, args[0], args[1], args[2],
                                "COMPUTER", SPEC_CLIENT_CHALLENGE, SPEC_TIME)
        assert field(msg, 20)[:16] != good[:16]
    # The user name is upper-cased, the domain is not (3.3.2).
    assert ntlm._ntowfv2("user", "Domain", "Password") == ntlm._ntowfv2("USER", "Domain",
                                                                        "Password")


# --- Strings ------------------------------------------------------------------------------

def test_utf16le():
    assert ntlm._utf16("") == b""
    assert ntlm._utf16("p\u00e4ssw\u00f6rd") == b"p\x00\xe4\x00s\x00s\x00w\x00\xf6\x00r\x00d\x00"
    assert ntlm._utf16("\u4e2d\u20ac") == b"\x2d\x4e\xac\x20"
    assert ntlm._utf16("\U0001f600") == b"\x3d\xd8\x00\xde"  # a surrogate pair
    assert ntlm._utf16("a\U00010000\U0010ffff") == b"a\x00\x00\xd8\x00\xdc\xff\xdb\xff\xdf"


def test_non_ascii_password_hashes():
    # NTOWFv1 (MD4 of UTF-16LE) of non-ASCII passwords, as pyspnego's ntowfv1 computes them.
    assert hexof(ntlm.md4(ntlm._utf16("p\u00e4ssw\u00f6rd"))) == \
        "0553152250ac01adb4213cb9938663e4"
    assert hexof(ntlm.md4(ntlm._utf16("p\U0001f600ss"))) == "b1847a4f90ec6e6793d813f9992e54a5"


def test_upper():
    assert ntlm._upper("svc@contoso.example") == "SVC@CONTOSO.EXAMPLE"
    assert ntlm._upper("j\u00fcrgen \u00ff") == "J\u00dcRGEN \u0178"
    assert ntlm._upper("\u0142\u00f3d\u017a \u0161") == "\u0141\u00d3D\u0179 \u0160"
    assert ntlm._upper("\u03b1\u03c2 \u0434\u0451") == "\u0391\u03a3 \u0414\u0401"
    assert ntlm._upper("stra\u00dfe \u00f7 \u4e2d 1") == "STRA\u00dfE \u00f7 \u4e2d 1"


# --- NEGOTIATE ----------------------------------------------------------------------------

def test_negotiate():
    msg = ntlm.negotiate()
    assert len(msg) == 40
    assert msg[:12] == b"NTLMSSP\x00\x01\x00\x00\x00"
    flags = struct.unpack_from("<I", msg, 12)[0]
    for bit in (0x1, 0x4, 0x200, 0x8000, 0x80000, 0x800000):  # 2.2.2.5 A C H M P S
        assert flags & bit, hex(bit)
    for bit in (0x2, 0x10, 0x20, 0x40000000, 0x02000000):  # no OEM, SIGN, SEAL, KEY_EXCH, VERSION
        assert not flags & bit, hex(bit)
    assert msg[16:40] == b"\x00\x00\x00\x00\x28\x00\x00\x00" * 2 + bytes(8)


# --- The server's time and the MIC --------------------------------------------------------

def challenge(pairs, flags=0xE28A8235, server_challenge=b"\x01\x23\x45\x67\x89\xab\xcd\xef"):
    # A CHALLENGE_MESSAGE with these AV pairs (MsvAvEOL added) and TargetName "Srv".
    info = b"".join(struct.pack("<HH", i, len(v)) + v for i, v in pairs) + bytes(4)
    name = b"S\x00r\x00v\x00"
    return (b"NTLMSSP\x00" + struct.pack("<IHHII", 2, len(name), len(name), 56, flags)
            + server_challenge + bytes(8) + struct.pack("<HHI", len(info), len(info), 56 + 6)
            + bytes(8) + name + info)


STAMP = struct.pack("<Q", 133500000000000000)
NB = (1, b"S\x00R\x00V\x00")


def test_server_time_zero_lm_and_mic():
    neg = ntlm.negotiate()
    chal = challenge([(2, b"D\x00"), (7, STAMP), (1, b"S\x00")])
    msg = ntlm.authenticate(neg, chal, "svc@contoso.example", "", PASSWORD,
                            client_challenge=b"\x11" * 8, now=0)
    assert field(msg, 12) == bytes(24)  # 3.1.5.1.2: Z(24) when MsvAvTimestamp is present
    nt = field(msg, 20)
    assert nt[16:18] == b"\x01\x01" and nt[24:32] == STAMP  # the server's time, not `now`
    assert nt[32:40] == b"\x11" * 8
    pairs = av_pairs(nt[44:])
    assert pairs == [(2, b"D\x00"), (7, STAMP), (1, b"S\x00"), (6, b"\x02\x00\x00\x00"),
                     (0, b"")]
    assert nt[44 + sum(4 + len(v) for _, v in pairs):] == bytes(4)  # Z(4) after ServerName
    assert field(msg, 28) == b"" and field(msg, 36) == ntlm._utf16("svc@contoso.example")
    # MIC = HMAC_MD5(SessionBaseKey, NEGOTIATE + CHALLENGE + AUTHENTICATE with a zero MIC)
    key = ntlm._ntowfv2("svc@contoso.example", "", PASSWORD)
    assert hexof(nt[:16]) == hexof(ntlm.hmac_md5(key, chal[24:32] + nt[16:]))
    session = ntlm.hmac_md5(key, nt[:16])
    zeroed = msg[:72] + bytes(16) + msg[88:]
    assert msg[72:88] == ntlm.hmac_md5(session, neg + chal + zeroed)
    assert msg[72:88] != bytes(16)


def test_existing_av_flags_gain_the_mic_bit():
    chal = challenge([(7, STAMP), (6, b"\x01\x00\x00\x00"), (2, b"D\x00")])
    nt = field(ntlm.authenticate(ntlm.negotiate(), chal, "u", "d", PASSWORD), 20)
    assert av_pairs(nt[44:]) == [(7, STAMP), (6, b"\x03\x00\x00\x00"), (2, b"D\x00"), (0, b"")]


def test_time_without_server_time():
    chal = challenge([(2, b"D\x00"), NB])
    nt = field(ntlm.authenticate(ntlm.negotiate(), chal, "u", "d", PASSWORD, now=1767225600),
               20)
    assert struct.unpack("<Q", nt[24:32])[0] == (1767225600 + 11644473600) * 10000000
    before = clock.now()
    msg = ntlm.authenticate(ntlm.negotiate(), chal, "u", "d", PASSWORD)
    ticks = struct.unpack("<Q", field(msg, 20)[24:32])[0]
    assert before <= ticks // 10000000 - 11644473600 <= clock.now()
    assert msg[72:88] == bytes(16)  # no MIC without the server's MsvAvTimestamp
    assert len(field(msg, 12)) == 24 and field(msg, 12)[16:] == field(msg, 20)[32:40]


def test_client_challenge_is_random():
    chal = challenge([(7, STAMP)])
    seen = set()
    for _ in range(4):
        nt = field(ntlm.authenticate(ntlm.negotiate(), chal, "u", "d", PASSWORD), 20)
        seen.add(nt[32:40])
    assert len(seen) == 4


def test_workstation_and_flags():
    chal = challenge([(7, STAMP)], flags=0x00000001 | 0x00000200 | 0x00800000 | 0x40000000)
    msg = ntlm.authenticate(ntlm.negotiate(), chal, "u", "d", PASSWORD, "PANEL-7")
    assert field(msg, 44) == ntlm._utf16("PANEL-7")
    # What both sides set, and never KEY_EXCH (which the server offered) or what we did not ask.
    assert struct.unpack_from("<I", msg, 60)[0] == 0x00000001 | 0x00000200 | 0x00800000


# --- A malformed CHALLENGE ----------------------------------------------------------------

def test_every_truncation_is_an_ntlm_error():
    for chal in (SPEC_CHALLENGE, challenge([(2, b"D\x00"), (7, STAMP)])):
        for n in range(len(chal)):
            raises_ntlm(ntlm.authenticate, ntlm.negotiate(), chal[:n], "u", "d", PASSWORD)
        ntlm.authenticate(ntlm.negotiate(), chal, "u", "d", PASSWORD)  # the whole one works


def with_bytes(msg, at, data):
    return msg[:at] + data + msg[at + len(data):]


def test_bad_challenges_are_ntlm_errors():
    good = challenge([(2, b"D\x00"), (7, STAMP)])
    n = len(good)
    cases = [
        (with_bytes(good, 0, b"NTLMSSQ\x00"), "not an NTLM message"),
        (with_bytes(good, 8, b"\x03"), "not a challenge"),
        (with_bytes(good, 8, b"\x01"), "not a challenge"),
        (with_bytes(good, 20, b"\x34"), "Unicode"),  # OEM only
        (with_bytes(good, 40, struct.pack("<HHI", 0, 0, 62)), "no target information"),
        (with_bytes(good, 40, struct.pack("<HHI", 0xFFFF, 0xFFFF, 62)), "outside"),
        (with_bytes(good, 40, struct.pack("<HHI", 24, 24, 0xFFFFFFFF)), "outside"),
        (with_bytes(good, 40, struct.pack("<HHI", 24, 24, n - 23)), "outside"),
        (with_bytes(good, 40, struct.pack("<HHI", 18, 18, 62)), "end properly"),  # no EOL
        (with_bytes(good, 62 + 2, b"\x20\x00"), "wrong length"),  # a pair past the end
        (challenge([(7, STAMP[:4])]), "wrong length"),
        (challenge([(6, b"\x02\x00")]), "wrong length"),
        (challenge([])[:-2], "outside"),  # MsvAvEOL cut short
        (b"", "too short"),
        (b"NTLMSSP\x00\x02\x00\x00\x00" + bytes(30), "too short"),
    ]
    for chal, words in cases:
        e = raises_ntlm(ntlm.authenticate, ntlm.negotiate(), chal, "u", "d", PASSWORD)
        assert words in e.words, (words, e.words)


def test_mutated_challenges_never_raise_anything_else():
    good = challenge([(2, b"D\x00o\x00"), (7, STAMP), (6, b"\x00\x00\x00\x00"), NB])
    random.seed(4711)
    errors = 0
    for _ in range(400):
        msg = bytearray(good)
        for _ in range(1 + random.getrandbits(2)):
            msg[random.getrandbits(16) % len(msg)] = random.getrandbits(8)
        try:
            ntlm.authenticate(ntlm.negotiate(), bytes(msg), "u", "d", PASSWORD)
        except ntlm.NtlmError as e:
            assert PASSWORD not in e.words
            errors += 1
    assert errors > 0


# --- WWW-Authenticate ---------------------------------------------------------------------

def test_header_challenge():
    chal = challenge([(7, STAMP)])
    b64 = binascii.b2a_base64(chal).decode().strip()
    assert ntlm.header_challenge("NTLM " + b64) == chal
    assert ntlm.header_challenge("Negotiate, NTLM " + b64) == chal
    assert ntlm.header_challenge("Negotiate,NTLM " + b64 + ", Basic realm=\"x\"") == chal
    assert ntlm.header_challenge("ntlm  " + b64 + " ") == chal
    assert ntlm.header_challenge(("NTLM " + b64).encode()) == chal
    assert ntlm.header_challenge("Negotiate " + b64) is None
    assert ntlm.header_challenge("NTLM") is None
    assert ntlm.header_challenge("Negotiate, NTLM") is None
    assert ntlm.header_challenge("Basic realm=\"ntlm\"") is None
    assert ntlm.header_challenge("") is None
    raises_ntlm(ntlm.header_challenge, "NTLM TlRMTVNTUAA")  # bad padding
