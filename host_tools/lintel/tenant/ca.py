"""The fake tenant's keys: a local certificate authority, the HTTPS server's certificate, and the
key that signs tokens (with the self-signed certificate its JWKS entry carries, as Entra's do).

The CA lives in the state folder (`ca.pem`, `ca.key` mode 0600), so a tenant restarted on the same
state keeps the CA that configurations and tests already trust. The server certificate is issued
afresh at every start, for 127.0.0.1 and localhost unless told otherwise. Keys are never printed.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lintel.errors import LintelError

DEFAULT_NAMES = ("127.0.0.1", "localhost")
RSA_BITS = 2048  # what Microsoft's own TLS and token-signing certificates use
CA_YEARS = 10
SERVER_DAYS = 397  # the CA/Browser Forum's ceiling for a server certificate
BACKDATE = datetime.timedelta(days=1)  # tolerate a panel clock that is a little behind


@dataclass
class KeyPair:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def thumbprint(self) -> bytes:
        """SHA-1 of the certificate's DER bytes: what Entra puts in `x5t` and `kid`."""
        return hashlib.sha1(self.cert.public_bytes(serialization.Encoding.DER)).digest()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lintel fake tenant"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def create_ca() -> KeyPair:
    key = _new_key()
    name = _name("Lintel fake tenant local CA")
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, cert)


def issue_server_certificate(ca: KeyPair, names: tuple[str, ...] = DEFAULT_NAMES) -> KeyPair:
    """A TLS server certificate signed by `ca` for `names` (IP addresses or DNS names)."""
    key = _new_key()
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0])).issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + datetime.timedelta(days=SERVER_DAYS),
                             ca.cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=True, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                       critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return KeyPair(key, cert)


def create_signing_key() -> KeyPair:
    """The token-signing key and a self-signed certificate for it (the JWKS `x5c`)."""
    key = _new_key()
    name = _name("Lintel fake tenant token signing")
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=365 * 5))
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, cert)


def write_file(path: Path, data: bytes, mode: int) -> None:
    """Write atomically (a temporary file in the same folder, then a rename) with `mode`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _load_pair(cert_path: Path, key_path: Path) -> KeyPair | None:
    if not (cert_path.exists() and key_path.exists()):
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError) as e:
        raise LintelError(f"{cert_path.parent}: cannot read {cert_path.name}/{key_path.name} "
                          f"({e}); use a fresh --state folder") from e
    if not isinstance(key, rsa.RSAPrivateKey):
        raise LintelError(f"{key_path}: not an RSA key; use a fresh --state folder")
    return KeyPair(key, cert)


def _load_or_create(state: Path, stem: str, create) -> KeyPair:
    cert_path, key_path = state / f"{stem}.pem", state / f"{stem}.key"
    pair = _load_pair(cert_path, key_path)
    if pair is None or pair.cert.not_valid_after_utc <= _now():
        pair = create()
        write_file(key_path, pair.key_pem(), 0o600)
        write_file(cert_path, pair.cert_pem(), 0o644)
    return pair


def load_or_create_ca(state: Path) -> KeyPair:
    """The state folder's CA (`ca.pem`, `ca.key`), created on first use."""
    return _load_or_create(state, "ca", create_ca)


def load_or_create_signing_key(state: Path) -> KeyPair:
    """The state folder's token-signing key (`signing.pem`, `signing.key`), so tokens issued
    before a restart on the same state still verify after it."""
    return _load_or_create(state, "signing", create_signing_key)


def write_ca_out(ca: KeyPair, path: Path) -> Path:
    """Copy the CA certificate (never its key) to `path` for configurations and tests."""
    path = Path(path)
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory")
        write_file(path, ca.cert_pem(), 0o644)
    except OSError as e:
        raise LintelError(f"cannot write the CA certificate to {path}: "
                          f"{e.strerror or e}") from e
    return path.resolve()
