"""What a CLI command prints when it cannot go on: one line, what happened and what to do.

Exit codes (the README lists them): 0 done; 1 done, but some items failed or are not finished;
2 the command could not run (a bad argument or config, no such app, a refused key, a server
that cannot be reached or answers with errors, a file or folder that cannot be read or
written); 130 interrupted (ctrl+c). A run stopped by 2 or 130 resumes when run again.
"""

from __future__ import annotations

import sys
from typing import TextIO

from tui.widgets.text import safe

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_CANNOT_RUN = 2
EXIT_INTERRUPTED = 130


def error_line(command: str, error: BaseException) -> str:
    """``clarifai-tui COMMAND: what went wrong; what to do`` (sanitised, one line)."""
    from api.errors import ApiConnectionError, ApiError

    prefix = f"clarifai-tui {command}".rstrip()
    if isinstance(error, ApiConnectionError):
        advice = (
            "check the profile's base_url and the network (or start the server, if it is "
            "a `clarifai-tui serve`), then run the same command again"
        )
    elif isinstance(error, ApiError) and error.is_auth:
        advice = "fix the key, then run the same command again (it resumes)"
    elif isinstance(error, ApiError) and error.retryable:
        advice = "the server is failing; run the same command again later to resume"
    elif isinstance(error, ApiError):
        advice = ""
    elif isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        what = error.strerror or str(error)
        return safe(
            f"{prefix}: cannot use{where}: {what}; check that it exists and that you may "
            "read and write it",
            one_line=True,
        )
    else:
        return safe(
            f"{prefix}: unexpected {type(error).__name__}: {error} (please report it)",
            one_line=True,
        )
    text = f"{prefix}: {error}"
    if advice:
        text += f"; {advice}"
    return safe(text, one_line=True)


def print_error(command: str, error: BaseException, stream: TextIO | None = None) -> None:
    print(error_line(command, error), file=stream or sys.stderr, flush=True)
