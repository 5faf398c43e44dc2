"""What an error that stops a ``workbench`` command means to the person who ran it: one message in
words and an exit code, never a Python traceback (``workbench --debug ...`` shows it).

Exit codes (the command line's contract): 2 the input could not be used (a period, record or
source file, a path, an argument) -- which is also what an unexpected error most often means, so it
exits 2 too, saying it is unexpected and how to report it; 1 is kept for a finished run in which a
control failed, or a verification that found differences; 130 an interrupted command.
"""

from __future__ import annotations

import traceback
from pathlib import Path

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130
TRACEBACK_HEADER = "Traceback (most recent call last)"


def _os_message(exc: OSError) -> str:
    """An operating-system error as ``path: what happened`` (``outputs/x: Not a directory``)."""
    what = exc.strerror or str(exc)
    names = [str(name) for name in (exc.filename, exc.filename2) if name]
    return f"{' -> '.join(names)}: {what}" if names else what


def describe_error(exc: BaseException) -> tuple[int, str]:
    """(exit code, message) for an exception that ended a command; the message is for auditors."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted: the run folder is incomplete and has no manifest; start the run again."
    if isinstance(exc, KeyError):
        return EXIT_BAD_INPUT, f"error: {exc.args[0] if exc.args else exc}"
    if isinstance(exc, UnicodeDecodeError):
        return EXIT_BAD_INPUT, (f"error: a file is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                                "save it as UTF-8 and run again.")
    if isinstance(exc, OSError) and exc.strerror:
        return EXIT_BAD_INPUT, f"error: {_os_message(exc)}"
    if isinstance(exc, (ValueError, OSError)):
        return EXIT_BAD_INPUT, f"error: {exc}"
    if isinstance(exc, RecursionError):
        return EXIT_BAD_INPUT, "error: an input is nested too deeply to be read; check the files the command was given."
    if isinstance(exc, MemoryError):
        return EXIT_BAD_INPUT, ("error: the computer ran out of memory; an input is far larger than expected, or "
                                "use fewer --jobs.")
    return EXIT_BAD_INPUT, (f"error: the workbench stopped on an unexpected problem ({type(exc).__name__}: {exc}). "
                            "Nothing was signed off or overwritten. Run the same command with --debug to see the "
                            "technical detail, and report it with that detail.")


def report(exc: BaseException, debug: bool = False) -> tuple[int, str]:
    """(exit code, text to print on standard error): the message, and with ``debug`` the traceback above it."""
    code, message = describe_error(exc)
    if debug:
        detail = "".join(traceback.format_exception(exc))
        return code, f"{detail.rstrip()}\n{message}"
    return code, message


def out_folder_problem(path: Path, option: str = "--out") -> str | None:
    """Why ``path`` cannot be the folder of run outputs (None when it can, or does not exist yet)."""
    path = Path(path)
    if path.is_dir():
        return None
    if path.exists() or path.is_symlink():
        kind = "a file" if path.is_file() else "not a folder"
        return (f"error: {option} {path} is {kind}; give the folder the runs are written to "
                "(it is created when it does not exist).")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            return f"error: {option} {path} cannot be a folder: {parent} is a file."
    return None
