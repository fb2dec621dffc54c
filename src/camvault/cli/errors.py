"""The error a verb raises for bad command-line input: printed as one line, exit status 1."""


class CliError(Exception):
    """The command line asked for something that cannot be done; the message says the fix."""
