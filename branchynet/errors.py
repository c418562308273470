"""The one exception type that the command line turns into a one-line error."""


class BranchyNetError(Exception):
    """A problem the user can fix: bad input, missing or corrupt data.

    The CLI prints ``branchynet: error: <message>`` and exits with status 2;
    Python callers can catch it like any other exception.
    """
