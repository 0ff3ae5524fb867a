# What the calendar backends (app/graph.py for Microsoft 365, app/ews.py for Exchange
# on-premises) have in common: the error a call that did not work raises. Both offer the same
# calls (calendar_view, room_lists, rooms_in, schedule, create_event, move_end, decline,
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
