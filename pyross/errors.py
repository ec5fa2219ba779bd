"""User-facing errors.

Every mistake a user can make on the command line (an unknown name, a bad number, a missing
file) raises :class:`PyrossError`. The CLI prints its message as one line and exits with
status 2, without a traceback; library users catch it like any other exception.
"""
import difflib


class PyrossError(Exception):
    """A problem with the user's input or environment, explained in one line.

    :cvar int exit_code: the CLI's exit status for it.
    """

    exit_code = 2


class Interrupted(PyrossError):
    """Training stopped by the user (Ctrl-C) after saving its state."""

    exit_code = 130


def unknown_name(kind, name, choices):
    """Build the error for an unknown ``name`` of a ``kind`` (model, dataset, ...).

    :param str kind: what was looked up, e.g. ``"model"``.
    :param str name: the name the user gave.
    :param choices: the valid names.
    :returns: a :class:`PyrossError` suggesting the closest valid name.
    """
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return PyrossError(f"unknown {kind} {name!r}{hint} (choose from: {', '.join(choices)})")
