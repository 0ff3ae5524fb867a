class LintelError(Exception):
    """An error a user can meet: the CLI prints its message on one line and exits non-zero."""
