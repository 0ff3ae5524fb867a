"""The public root CAs a panel trusts: Microsoft's, shipped in the image as /certs/roots.der.

The list is Microsoft's "Azure Certificate Authority details" page
(learn.microsoft.com/azure/security/fundamentals/azure-certificate-authority-details, revision of
2025-11-17; the page's scope includes the government and national clouds). The certificates
themselves come from the pinned `certifi` package (Mozilla's root store; requirements.txt), found
by SHA-256 fingerprint and checked by subject, so a different certifi can neither swap a root
nor drop one silently: the build stops with one line instead. See docs/http.md, "Public roots".

Fingerprints: the SHA-256 of each DER certificate is Mozilla's (the "SHA256 Fingerprint" line
above each certificate in certifi 2026.10.19's cacert.pem, copied here by hand, not read at
build time); the SHA-1 is the thumbprint Microsoft's page prints, a second source, checked too.
"""

import base64
import datetime
import hashlib
import re
import warnings
from dataclasses import dataclass
from importlib import metadata

from lintel.errors import LintelError

# Where the file goes in the panel's filesystem (firmware/app/http_tls.py reads it from there).
IMAGE_PATH = "certs/roots.der"

# The sign-in and Graph hosts of each cloud the panel may talk to.
CLOUDS = {
    "global": ("login.microsoftonline.com", "graph.microsoft.com"),
    "usgov": ("login.microsoftonline.us", "graph.microsoft.us"),
    "china": ("login.chinacloudapi.cn", "microsoftgraph.chinacloudapi.cn"),
}


@dataclass(frozen=True)
class Root:
    name: str  # the certificate's common name, as Microsoft's page spells it
    organization: str  # the subject's O, checked with the CN
    sha256: str  # of the DER certificate, lower-case hex
    sha1: str  # Microsoft's published thumbprint, lower-case hex
    clouds: tuple[str, ...]  # clouds whose endpoints chain to it today (keys of CLOUDS)
    why: str  # which of Microsoft's issuing CAs chain to it


# In the order they go into roots.der: the RSA roots Azure serves most first.
ROOTS = (
    Root("DigiCert Global Root G2", "DigiCert Inc",
         "cb3ccbb76031e5e0138f8dd39a23f9de47ffc35e43c1144cea27d46a5ab1cb5f",
         "df3c24f9bfd666761b268073fe06d1cc8d4f82a4",
         ("global", "usgov", "china"),
         "Microsoft Azure RSA TLS Issuing CA 03/04/07/08 and Microsoft TLS RSA Root G2 "
         "(cross-signed); DigiCert Basic OV G2 TLS CN RSA4096 SHA256 2022 CA1 (China)"),
    Root("Microsoft RSA Root Certificate Authority 2017", "Microsoft Corporation",
         "c741f70f4b2a8d88bf2e71c14122ef53ef10eba0cfa5e64cfa20f418853073e0",
         "73a5e64a3bff8316ff0edccc618a906e4eae4d74",
         ("global", "usgov"),
         "Microsoft Azure RSA TLS Issuing CA 03/04/07/08"),
    Root("DigiCert Global Root G3", "DigiCert Inc",
         "31ad6648f8104138c738f39ea4320133393e3a18cc02296ef97c2ac9ef6731d0",
         "7e04de896a3e666d00e687d33ffad93be83d349e",
         ("global", "usgov", "china"),
         "Microsoft Azure ECC TLS Issuing CA 03/04/07/08 and Microsoft TLS ECC Root G2 "
         "(cross-signed); DigiCert Basic OV G3 TLS CN ECC P-384 SHA384 2022 CA1 (China)"),
    Root("Microsoft ECC Root Certificate Authority 2017", "Microsoft Corporation",
         "358df39d764af9e1b766e9c972df352ee15cfac227af6ad1d70e8e4a6edcba02",
         "999a64c37ff47d9fab95f14769891460eec4c3c5",
         ("global", "usgov"),
         "Microsoft Azure ECC TLS Issuing CA 03/04/07/08"),
    Root("DigiCert TLS RSA4096 Root G5", "DigiCert, Inc.",
         "371a00dc0533b3721a7eeb40e8419e70799d2b0a0f2c1d80693165f7cec4ad75",
         "a78849dc5d7c758c8cde399856b3aad0b2a57135",
         (),
         "listed among Azure's roots with no issuing CA under it yet: carried so a move to "
         "DigiCert's G5 roots needs no new image on panels already in the field"),
    Root("DigiCert TLS ECC P384 Root G5", "DigiCert, Inc.",
         "018e13f0772532cf809bd1b17281867283fc48c6e13be9c69812854a490c1b05",
         "17f3de5e9f0f19e98ef61f32266e20c407ae30ee",
         (),
         "listed among Azure's roots with no issuing CA under it yet: carried so a move to "
         "DigiCert's G5 roots needs no new image on panels already in the field"),
)

# Named by Microsoft (now or before) and deliberately not shipped.
LEFT_OUT = (
    ("Baltimore CyberTrust Root",
     "expired on 2025-05-12; Microsoft took it off the list on 2024-10-08"),
    ("DigiCert Global Root CA",
     "Mozilla and Chrome removed it (and DigiCert's other G1 roots) on 2026-04-15, so certifi "
     "no longer carries it and no publicly trusted TLS certificate chains to it; the China "
     "cloud's newer issuing CAs (DigiCert Basic OV G2/G3 TLS CN) chain to G2 and G3"),
)

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n(.*?)-----END CERTIFICATE-----", re.S)


@dataclass(frozen=True)
class Certificate:
    root: Root
    der: bytes
    key: str  # e.g. "RSA 2048", "ECC P-384"
    not_after: str  # ISO date


def certifi_source() -> tuple[str, bytes]:
    """("certifi VERSION", the bundle's bytes), or a LintelError saying what to install."""
    try:
        import certifi
    except ImportError:
        raise LintelError("the certifi package is not installed (lintel build takes the "
                          "public roots from it): pip install -r requirements.txt") from None
    try:
        version = metadata.version("certifi")
    except metadata.PackageNotFoundError:
        version = getattr(certifi, "__version__", "unknown")
    path = certifi.where()
    try:
        with open(path, "rb") as f:
            return f"certifi {version}", f.read()
    except OSError as e:
        raise LintelError(f"cannot read certifi's bundle {path}: {e.strerror}") from None


def _subjects(bundle: bytes) -> dict[str, str]:
    """Common name -> SHA-256 of every certificate in the bundle (for error messages only)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    out = {}
    with warnings.catch_warnings():  # a few old roots have serials cryptography warns about
        warnings.simplefilter("ignore")
        for m in _PEM.finditer(bundle):
            der = base64.b64decode(m.group(1))
            cn = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(
                NameOID.COMMON_NAME)
            if cn:
                out[cn[0].value] = hashlib.sha256(der).hexdigest()
    return out


def root_certificates(bundle: bytes | None = None, source: str | None = None,
                      roots: tuple[Root, ...] = ROOTS) -> list[Certificate]:
    """Each root's DER certificate from certifi (or `bundle`), in the order of `roots`.

    A certificate is taken only if its SHA-256 is the one written here and its subject says
    the expected name; anything else is one LintelError line naming the root.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    if bundle is None:
        source, bundle = certifi_source()
    source = source or "the CA bundle"
    by_sha256 = {}
    for m in _PEM.finditer(bundle):
        der = base64.b64decode(m.group(1))
        by_sha256[hashlib.sha256(der).hexdigest()] = der
    now = datetime.datetime.now(datetime.timezone.utc)
    out = []
    for root in roots:
        der = by_sha256.get(root.sha256)
        if der is None:
            other = _subjects(bundle).get(root.name)
            if other:
                raise LintelError(
                    f"{source} has a different '{root.name}' (SHA-256 {other}, expected "
                    f"{root.sha256}): check the change, then update lintel/roots.py")
            raise LintelError(
                f"{source} has no '{root.name}' (SHA-256 {root.sha256}): pin the certifi "
                "of requirements.txt, or take the root out of lintel/roots.py")
        cert = x509.load_der_x509_certificate(der)
        cn = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        org = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        if cn != [root.name] or org != [root.organization] or cert.subject != cert.issuer:
            raise LintelError(
                f"the certificate with SHA-256 {root.sha256} in {source} is "
                f"'{cert.subject.rfc4514_string()}', not the self-signed '{root.name}'")
        if hashlib.sha1(der).hexdigest() != root.sha1:
            raise LintelError(f"'{root.name}' in {source} does not have Microsoft's "
                              f"thumbprint {root.sha1}")
        if cert.not_valid_after_utc < now:
            raise LintelError(f"'{root.name}' expired on {cert.not_valid_after_utc:%Y-%m-%d}: "
                              "take it out of lintel/roots.py")
        public = cert.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            key = f"RSA {public.key_size}"
        elif isinstance(public, ec.EllipticCurvePublicKey):
            key = f"ECC P-{public.curve.key_size}"
        else:
            key = type(public).__name__
        out.append(Certificate(root, der, key, f"{cert.not_valid_after_utc:%Y-%m-%d}"))
    return out


def bundle_bytes(certs: list[Certificate]) -> bytes:
    """What goes into /certs/roots.der: the DER certificates one after another."""
    return b"".join(c.der for c in certs)


def manifest_entry(certs: list[Certificate], source: str) -> dict:
    """The manifest's "roots" section."""
    data = bundle_bytes(certs)
    entries, offset = [], 0
    for c in certs:
        entries.append({"name": c.root.name, "sha256": c.root.sha256, "sha1": c.root.sha1,
                        "key": c.key, "not_after": c.not_after, "clouds": list(c.root.clouds),
                        "offset": offset, "size": len(c.der)})
        offset += len(c.der)
    return {"file": "/rom/" + IMAGE_PATH, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "source": source,
            "certificates": entries,
            "left_out": [{"name": name, "why": why} for name, why in LEFT_OUT]}
