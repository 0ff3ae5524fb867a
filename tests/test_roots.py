"""lintel/roots.py: Microsoft's root CAs taken from the pinned certifi, checked by fingerprint
and subject; a certifi that lost or swapped one stops the build with one line; and the Unix-port
MicroPython's mbedTLS verifies chains of the shapes Microsoft's roots sign (ECC P-384 with
SHA-384, RSA 4096) through app.http with the image's roots plus an extra CA."""

import datetime
import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from helpers import built_image
from lintel import FIRMWARE_DIR, ROOT, image, roots
from lintel.errors import LintelError

MICROPYTHON = Path(sys.executable).with_name("micropython")


def certifi_bundle() -> bytes:
    return roots.certifi_source()[1]


def pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def make_cert(subject: x509.Name, key, issuer: x509.Name | None = None, issuer_key=None, *,
              ca: bool, digest=None, sans=()) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]),
                            critical=False)
    return b.sign(issuer_key or key, digest or hashes.SHA256())


# ---- the list and certifi ------------------------------------------------------------------

def test_every_root_comes_from_certifi_verified():
    certs = roots.root_certificates()
    assert [c.root for c in certs] == list(roots.ROOTS)
    for c in certs:
        assert hashlib.sha256(c.der).hexdigest() == c.root.sha256
        assert hashlib.sha1(c.der).hexdigest() == c.root.sha1  # Microsoft's thumbprint
        cert = x509.load_der_x509_certificate(c.der)
        assert cert.subject == cert.issuer
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == c.root.name
        assert c.not_after >= "2038"
    assert len({c.root.sha256 for c in certs}) == len(certs)
    assert roots.bundle_bytes(certs) == b"".join(c.der for c in certs)


def test_every_cloud_has_an_rsa_and_an_ecc_root():
    certs = roots.root_certificates()
    for cloud in roots.CLOUDS:
        keys = {c.key.split()[0] for c in certs if cloud in c.root.clouds}
        assert keys == {"RSA", "ECC"}, cloud
    for c in certs:
        assert set(c.root.clouds) <= set(roots.CLOUDS)


def test_left_out_roots_are_named_with_a_reason():
    left = dict(roots.LEFT_OUT)
    assert set(left) == {"Baltimore CyberTrust Root", "DigiCert Global Root CA"}
    assert "expired" in left["Baltimore CyberTrust Root"]
    assert all(why for why in left.values())
    shipped = {r.name for r in roots.ROOTS}
    assert not shipped & set(left)


def test_requirements_pin_the_installed_certifi():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    pins = [line for line in lines if line.startswith("certifi==")]
    assert pins == [f"certifi=={metadata.version('certifi')}"]


def test_a_missing_root_is_one_clear_error():
    bundle = certifi_bundle()
    der = roots.root_certificates()[3].der  # Microsoft ECC Root Certificate Authority 2017
    without = bundle.replace(pem(der), b"")
    assert without != bundle
    with pytest.raises(LintelError) as e:
        roots.root_certificates(without, "certifi 0.0")
    assert str(e.value).startswith(
        "certifi 0.0 has no 'Microsoft ECC Root Certificate Authority 2017' (SHA-256 358df39d")


def test_a_swapped_root_is_refused():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fake = make_cert(_name("DigiCert Global Root G2", "DigiCert Inc"), key, ca=True)
    real = pem(roots.root_certificates()[0].der)
    swapped = certifi_bundle().replace(real, fake.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(LintelError) as e:
        roots.root_certificates(swapped, "certifi 9.9")
    message = str(e.value)
    assert message.startswith("certifi 9.9 has a different 'DigiCert Global Root G2'")
    assert hashlib.sha256(fake.public_bytes(serialization.Encoding.DER)).hexdigest() in message


def test_a_fingerprint_under_the_wrong_name_is_refused():
    g2, g3 = roots.ROOTS[0], roots.ROOTS[2]
    mixed = (roots.Root(g2.name, g2.organization, g3.sha256, g2.sha1, g2.clouds, g2.why),)
    with pytest.raises(LintelError) as e:
        roots.root_certificates(certifi_bundle(), "certifi", roots=mixed)
    assert "DigiCert Global Root G3" in str(e.value) and "not the self-signed" in str(e.value)


def test_build_with_a_certifi_that_lost_a_root_fails_in_one_line(tmp_path):
    # A stand-in certifi package first on the path, its bundle without DigiCert Global Root G3.
    g3 = pem(roots.root_certificates()[2].der)
    (tmp_path / "certifi").mkdir()
    (tmp_path / "cacert.pem").write_bytes(certifi_bundle().replace(g3, b""))
    (tmp_path / "certifi" / "__init__.py").write_text(
        f"def where():\n    return {str(tmp_path / 'cacert.pem')!r}\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]))
    proc = subprocess.run([sys.executable, "-m", "lintel", "build", "--board", "esp32s3-epd75",
                           "--out", tmp_path / "out"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("lintel: certifi ") and "has no 'DigiCert Global Root G3'" in (
        lines[0])
    assert not (tmp_path / "out" / "flash.bin").exists()


# ---- the panel's mbedTLS and the algorithms of Microsoft's roots ---------------------------

PANEL_SCRIPT = """
import json, sys
from app import http, http_tls
port, roots_file, ca_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(ca_file) as f:
    extra = [f.read()]
out = {}
for label, cadata in (("roots", http_tls.ca_bundle(roots=roots_file)),
                      ("roots+extra", http_tls.ca_bundle(extra, roots=roots_file))):
    with http.Session(cadata=cadata, timeout=10) as s:
        try:
            out[label] = [s.ca_count, s.get("https://localhost:%d/" % port).text]
        except http.TlsError as e:
            out[label] = [s.ca_count, e.reason]
print(json.dumps(out))
"""


def serve_once_forever(ctx: ssl.SSLContext) -> tuple[socket.socket, int]:
    """A tiny HTTPS server (one answer per connection) on a thread; (listener, port)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def loop():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(4096)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                                b"Connection: close\r\n\r\nhello")
            except (OSError, ssl.SSLError):
                conn.close()

    threading.Thread(target=loop, daemon=True).start()
    return listener, listener.getsockname()[1]


def chain(kind: str):
    """(root, [leaf, intermediate], leaf key) shaped like Microsoft's chains of that kind."""
    if kind == "ecc-p384":  # Microsoft ECC Root 2017 / DigiCert G3: P-384, ecdsa-with-SHA384
        root_key, inter_key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(
            ec.SECP384R1())
        leaf_key = ec.generate_private_key(ec.SECP256R1())
    else:  # Microsoft RSA Root 2017 / DigiCert G5: RSA 4096, sha384WithRSAEncryption
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
        inter_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sha384 = hashes.SHA384()
    root = make_cert(_name(f"Lintel Test {kind} Root"), root_key, ca=True, digest=sha384)
    inter = make_cert(_name(f"Lintel Test {kind} Issuing CA"), inter_key, root.subject, root_key,
                      ca=True, digest=sha384)
    leaf = make_cert(_name("localhost"), leaf_key, inter.subject, inter_key, ca=False,
                     digest=sha384, sans=("localhost",))
    return root, [leaf, inter], leaf_key


@pytest.mark.parametrize("kind", ["ecc-p384", "rsa-4096"])
def test_panel_verifies_microsoft_shaped_chains_with_an_extra_ca(tmp_path, kind):
    files = image.read_romfs((built_image("esp32s3-epd75") / "romfs.bin").read_bytes())
    (tmp_path / "roots.der").write_bytes(files[roots.IMAGE_PATH])
    root, certs, key = chain(kind)
    (tmp_path / "ca.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "chain.pem").write_bytes(
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "chain.pem", tmp_path / "key.pem")
    listener, port = serve_once_forever(ctx)
    try:
        (tmp_path / "panel.py").write_text(PANEL_SCRIPT)
        proc = subprocess.run(
            [str(MICROPYTHON), str(tmp_path / "panel.py"), str(port),
             str(tmp_path / "roots.der"), str(tmp_path / "ca.pem")],
            env=dict(os.environ, MICROPYPATH=str(FIRMWARE_DIR)), capture_output=True,
            text=True, timeout=120, cwd=tmp_path)
    finally:
        listener.close()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"roots": [6, "unknown_ca"], "roots+extra": [7, "hello"]}
