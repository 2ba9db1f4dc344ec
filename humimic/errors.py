"""Errors that the command line turns into a one-line message and exit code 2."""

from __future__ import annotations


class HumimicError(Exception):
    """A problem with the user's input, files or options (not a bug in humimic).

    The message must name the file or option and say what is wrong, in one line.
    """


class InputFileError(HumimicError):
    """A file is missing, truncated, corrupt, or not in the expected format."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class ConfigError(HumimicError):
    """A configuration value or command-line option is invalid."""
