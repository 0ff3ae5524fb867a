# What the calendar backends (app/graph.py for Microsoft 365, app/ews.py for Exchange
# on-premises) have in common: the errors a call that did not work raises, and Entra's sign-in
# errors (app/entra.py), which app/wake.py handles without loading Entra's client. Both offer
# the same calls (calendar_view, room_lists, rooms_in, schedule, create_event, move_end, decline,
# send_mail), give events in the same compact form (room.py) and fail with the same kinds, so
# app/wake.py and the screens never ask which one runs.


class BackendError(Exception):
    """A backend call that did not work. `kind`: forbidden, not_found, throttled, unavailable,
    rejected, bad_response, credentials (EWS: the service account's password refused);
    `words` for the screen; `retry_after` in seconds; `code` the server's own error code."""

    def __init__(self, kind, words, status=None, code=None, retry_after=None):
        super().__init__(words)
        self.kind = kind
        self.words = words
        self.status = status
        self.code = code
        self.retry_after = retry_after


class SignInError(Exception):
    """A sign-in or refresh that did not work. `error` is Entra's error name (or our own),
    `code` its AADSTS number or None, `words` says what happened for the screen; `transient`
    when the service was busy or failing (429, 5xx: try again, after `retry_after` if given)."""

    def __init__(self, error, words, code=None, retry_after=None, transient=False):
        super().__init__("%s: %s" % (error, words))
        self.error = error
        self.code = code
        self.words = words
        self.retry_after = retry_after
        self.transient = transient


class SignInRequired(SignInError):
    """The stored sign-in is gone for good (invalid_grant): show the sign-in screen."""
