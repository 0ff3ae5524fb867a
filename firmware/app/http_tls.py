# The HTTP client's TLS (docs/http.md): a CA bundle (PEM or DER, one or more certificates) into
# a client SSLContext that requires a verified certificate, and mbedTLS's refusals into TlsError
# reasons. There is no path without verification. ca_bundle() joins the public roots that
# lintel build puts into the application (/rom/certs/roots.der) with the configuration's
# tls.extra_ca.
import binascii
from micropython import const

from app.http_errors import TlsError

# mbedTLS error codes as the tls module raises them (OSError(code, name))
CONN_EOF = const(-0x7280)  # the peer closed TCP without a TLS close_notify
_MBEDTLS_CA_CHAIN_REQUIRED = const(-0x7680)

# Microsoft's root CAs, DER certificates one after another (host_tools/lintel/roots.py).
ROOTS_PATH = "/rom/certs/roots.der"


def ca_bundle(extra_ca=None, roots=ROOTS_PATH):
    """The `cadata` for http.Session: the public roots of the image, then `extra_ca`, the
    configuration's tls.extra_ca (a list of PEM certificates, possibly empty). `roots` is the
    roots file's path, or its contents already read (bytes, e.g. from the board's storage).
    Only the roots file is read here (about 5.5 KB); tls_context splits and loads it."""
    if isinstance(roots, str):
        try:
            with open(roots, "rb") as f:
                roots = f.read()
        except OSError:
            roots = None
    if not roots:
        raise TlsError("this image has no public root CAs (%s): rebuild it with lintel build "
                       "and write it to the panel" % ROOTS_PATH, reason="bad_ca")
    if not extra_ca:
        return roots
    if isinstance(extra_ca, (str, bytes)):
        extra_ca = [extra_ca]
    return [roots] + list(extra_ca)


def der_certificates(cadata):
    """The DER certificates in `cadata`: PEM text with one or more certificates, one or more
    concatenated DER certificates, or a list/tuple of those. The tls module's
    load_verify_locations takes one DER certificate per call (it reads only the first of
    several, and this build has no PEM parser), so bundles are split here."""
    if isinstance(cadata, (list, tuple)):
        out = []
        for item in cadata:
            out.extend(der_certificates(item))
        return out
    if isinstance(cadata, str):
        cadata = cadata.encode()
    data = bytes(cadata)
    out = []
    if b"-----BEGIN" in data:
        begin, end = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
        at = data.find(begin)
        while at >= 0:
            stop = data.find(end, at)
            if stop < 0:
                raise TlsError("a PEM certificate in the CA bundle has no END line",
                               reason="bad_ca")
            text = b"".join(data[at + len(begin):stop].split())
            try:
                out.append(binascii.a2b_base64(text))
            except ValueError:
                raise TlsError("a PEM certificate in the CA bundle is not valid base64",
                               reason="bad_ca") from None
            at = data.find(begin, stop)
        return out
    at = 0
    while at < len(data):
        size = _der_size(data, at)
        out.append(data[at:at + size])
        at += size
    return out


def _der_size(data, at):
    # An X.509 certificate is one ASN.1 SEQUENCE: 0x30, a length, the contents.
    if len(data) - at < 2 or data[at] != 0x30:
        raise TlsError("the CA bundle is neither PEM nor DER certificates", reason="bad_ca")
    first = data[at + 1]
    if first < 0x80:
        size = 2 + first
    else:
        count = first & 0x7F
        if not 1 <= count <= 3 or len(data) - at < 2 + count:
            raise TlsError("a DER certificate in the CA bundle has a bad length", reason="bad_ca")
        size = 0
        for i in range(count):
            size = (size << 8) | data[at + 2 + i]
        size += 2 + count
    if at + size > len(data):
        raise TlsError("a DER certificate in the CA bundle is cut short", reason="bad_ca")
    return size


def tls_context(cadata):
    """A client SSLContext that requires a certificate chaining to one of the CAs in cadata."""
    import tls

    certs = der_certificates(cadata)
    if not certs:
        raise TlsError("the CA bundle holds no certificate", reason="bad_ca")
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_REQUIRED
    for i in range(len(certs)):
        try:
            ctx.load_verify_locations(certs[i])
        except (ValueError, OSError):
            raise TlsError("certificate %d of the CA bundle is not a valid X.509 certificate"
                           % (i + 1), reason="bad_ca") from None
        certs[i] = None  # mbedTLS keeps its own copy: let this one go
    return ctx, len(certs)


# What mbedTLS says (mbedtls_x509_crt_verify_info), what it means, what to do about it.
_VERIFY = (
    ("trusted CA", "unknown_ca",
     "the certificate of %s is not signed by a CA this panel trusts (a TLS-inspecting proxy? "
     "add its CA to tls.extra_ca)"),
    ("expected CN", "hostname", "the certificate of %s is for another host name"),
    ("has expired", "expired",
     "the certificate of %s has expired (or the panel's clock is wrong)"),
    ("in the future", "not_yet_valid",
     "the certificate of %s is not valid yet: is the panel's clock set?"),
)


def tls_failure(e, host):
    """The TlsError for an exception the tls module raised during a handshake, or None."""
    text = str(e.args[-1]) if e.args else ""
    if isinstance(e, ValueError):
        for needle, reason, message in _VERIFY:
            if needle in text:
                return TlsError(message % host, host, reason)
        return TlsError("the certificate of %s was refused: %s"
                        % (host, " ".join(text.split())), host, "bad_certificate")
    code = e.args[0] if e.args else 0
    if code == CONN_EOF:
        return TlsError("%s closed the connection during the TLS handshake (not a TLS server?)"
                        % host, host, "handshake")
    if code == _MBEDTLS_CA_CHAIN_REQUIRED:
        return TlsError("no CA certificates to check %s against" % host, host, "no_ca")
    if isinstance(code, int) and code < 0:
        return TlsError("the TLS handshake with %s failed (mbedTLS -0x%04X %s)"
                        % (host, -code, text if isinstance(text, str) else ""), host)
    return None
