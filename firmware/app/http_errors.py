# The HTTP client's errors (docs/http.md). Every failure is an HttpError subclass with a stable
# `reason` and an ASCII message (the panel's fonts have no other glyphs) naming the host and
# what happened; no message ever holds a header value, a body or a token.


class HttpError(Exception):
    # Every failure of the HTTP client. `host` names the server (or proxy) concerned.
    reason = "http"

    def __init__(self, message, host=None):
        super().__init__(message)
        self.host = host


class DnsError(HttpError):
    reason = "dns"


class ConnectError(HttpError):
    reason = "connect"


class TimeoutError(HttpError):  # noqa: A001 -- MicroPython has no builtin of that name
    reason = "timeout"


class ConnectTimeout(TimeoutError):
    reason = "connect_timeout"


class ReadTimeout(TimeoutError):
    reason = "read_timeout"


class TlsError(HttpError):
    # `reason`: unknown_ca, hostname, expired, not_yet_valid, bad_certificate, no_ca, bad_ca,
    # handshake
    def __init__(self, message, host=None, reason="handshake"):
        super().__init__(message, host)
        self.reason = reason


class ProxyError(HttpError):
    reason = "proxy"

    def __init__(self, message, host=None, status=None):
        super().__init__(message, host)
        self.status = status


class ProtocolError(HttpError):
    reason = "protocol"


class ConnectionClosed(HttpError):
    # The server closed (or reset) the connection before its answer began. `sent` is False
    # when the request was not (completely) handed to the network.
    reason = "closed"

    def __init__(self, message, host=None, reset=False, sent=True):
        super().__init__(message, host)
        self.reset = reset
        self.sent = sent


class TruncatedBody(HttpError):
    reason = "truncated"


class BodyTooLarge(HttpError):
    reason = "too_large"


class TooManyRedirects(HttpError):
    reason = "redirects"


class JsonError(ProtocolError):
    reason = "bad_json"
