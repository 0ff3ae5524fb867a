# The public roots lintel build puts into the application (/rom/certs/roots.der,
# host_tools/lintel/roots.py), read from the built image's romfs partition (LINTEL_FLASH) and
# loaded by the Unix port's tls module; joined with an extra CA, against tests/http_server.py
# (LINTEL_HTTP_TEST).
import esp32
import vfs

from http_helpers import raises, read, url

from app import http, http_tls

_mounted = False

# DER fragments: the id-ecPublicKey and secp384r1 OIDs (RFC 5480), rsaEncryption (RFC 8017).
EC_PUBLIC_KEY = b"\x06\x07\x2a\x86\x48\xce\x3d\x02\x01"
SECP384R1 = b"\x06\x05\x2b\x81\x04\x00\x22"
RSA_ENCRYPTION = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"


def roots_path():
    # The application's ROMFS at /rom, as the panel's base firmware mounts it, beside the
    # host's files.
    global _mounted
    if not _mounted:
        (part,) = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="romfs")
        offset = part.info()[2]
        head = bytearray(8)  # the ROMFS header, then the image's length as a varuint
        esp32.flash_read(offset, head)
        length, at = 0, 3
        while True:
            length, at = length << 7 | head[at] & 0x7F, at + 1
            if not head[at - 1] & 0x80:
                break
        image = bytearray(at + length)
        esp32.flash_read(offset, image)
        vfs.mount(vfs.VfsRom(image), "/rom")
        _mounted = True
    return http_tls.ROOTS_PATH














def roots():
    with open(roots_path(), "rb") as f:
        return http_tls.der_certificates(f.read())


def test_every_shipped_root_loads_on_its_own():
    certs = roots()
    assert len(certs) == 6, len(certs)
    kinds = []
    for der in certs:
        ctx, n = http_tls.tls_context(der)  # one SSLContext each: a bad one cannot hide
        assert n == 1
        if EC_PUBLIC_KEY in der:
            assert SECP384R1 in der  # every ECC root Microsoft names is P-384
            kinds.append("ecc")
        else:
            assert RSA_ENCRYPTION in der
            kinds.append("rsa")
    assert kinds.count("ecc") == 3 and kinds.count("rsa") == 3, kinds
    # all of them together, as the panel loads them
    ctx, n = http_tls.tls_context(http_tls.ca_bundle(roots=roots_path()))
    assert n == 6


def test_roots_file_is_certificates_end_to_end():
    # DER certificates one after another, nothing between or after them (tests/test_build.py
    # checks each one's SHA-256 against lintel/roots.py and the manifest).
    with open(roots_path(), "rb") as f:
        data = f.read()
    certs = http_tls.der_certificates(data)
    assert sum(len(der) for der in certs) == len(data)
    assert all(der[0] == 0x30 for der in certs)


def test_image_roots_alone_refuse_the_local_test_server():
    with http.Session(cadata=http_tls.ca_bundle(roots=roots_path()), timeout=10) as s:
        assert s.ca_count == 6
        e = raises(http.TlsError, s.get, url("/echo"))
        assert e.reason == "unknown_ca", (e.reason, str(e))
        assert "localhost" in str(e) and "tls.extra_ca" in str(e)


def test_extra_ca_from_the_config_is_trusted_beside_the_roots():
    extra = [read("ca_pem").decode()]  # as the resolved configuration carries tls.extra_ca
    with http.Session(cadata=http_tls.ca_bundle(extra, roots=roots_path()), timeout=10) as s:
        assert s.ca_count == 7
        r = s.get(url("/echo"))
        assert r.status_code == 200 and r.json()["path"] == "/echo"
        # a server from another CA is still refused
        e = raises(http.TlsError, s.get, url("/echo", "other_ca"))
        assert e.reason == "unknown_ca", e.reason


def test_an_empty_extra_ca_list_is_the_roots_alone():
    with open(roots_path(), "rb") as f:
        data = f.read()
    assert http_tls.ca_bundle([], roots=roots_path()) == data
    assert http_tls.ca_bundle(None, roots=roots_path()) == data
    single = http_tls.ca_bundle(read("ca_pem").decode(), roots=roots_path())
    assert len(http_tls.der_certificates(single)) == 7


def test_missing_roots_file_has_words():
    for missing in ("/rom/certs/nothing.der", b""):
        e = raises(http.TlsError, http_tls.ca_bundle, [], roots=missing)
        assert e.reason == "bad_ca" and "lintel build" in str(e), str(e)


def test_roots_already_read_are_taken_as_they_are():
    # For an app that reads files through the board's storage instead of open().
    with open(roots_path(), "rb") as f:
        data = f.read()
    assert http_tls.ca_bundle(None, roots=data) is data
    both = http_tls.ca_bundle([read("ca_pem").decode()], roots=data)
    assert both[0] is data and len(http_tls.der_certificates(both)) == 7
