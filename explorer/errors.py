"""Errors the CLI turns into a one-line message and an exit code."""


class UsageError(ValueError):
    """Bad input from the user (a flag, a study file, a study name): exit code 2."""


class StudyError(RuntimeError):
    """A study cannot be run or read as asked (e.g. storage unreachable): exit code 1."""
