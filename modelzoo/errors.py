"""Errors that the command-line entry points turn into one-line messages."""


class ModelzooError(Exception):
    """A failure the user can fix; printed as one line, exit code 1."""

    exit_code = 1


class UsageError(ModelzooError):
    """A bad flag or argument; exit code 2."""

    exit_code = 2


class DataError(ModelzooError):
    """A dataset that is missing, corrupt or unreadable; exit code 1."""
