"""The one exception type for problems an analyst can fix, and the log for everything else.

A ``UserInputError`` is shown as it is: its message names the file, sheet, column or rows
and says what to do. Any other exception is a defect of this program: the CLI and the app
write its traceback to a log file (``report_unexpected``) and show one line that points
to it, never the traceback itself.
"""

from __future__ import annotations

import os
import re
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

LOG_VARIABLE = "CLUSTERING_LOG_FILE"
# a URL's password (scheme://user:password@host) and a connection string's password=...
URL_PASSWORD = re.compile(r"\b([a-z][a-z0-9+.\-]*://[^\s:/@]*):[^\s/]+@", re.IGNORECASE)  # to the last @
DSN_PASSWORD = re.compile(r"\b(password|passwd|pwd)\s*=\s*('[^']*'|\"[^\"]*\"|[^\s;&]+)", re.IGNORECASE)


def hide_passwords(text: str) -> str:
    """``text`` with every password of a URL or connection string shown as ***: for anything
    shown on a page, printed, logged or tracked."""
    return DSN_PASSWORD.sub(r"\1=***", URL_PASSWORD.sub(r"\1:***@", text))


class UserInputError(ValueError):
    """Bad input or configuration.

    The message names the file, sheet, column or rows involved and says what to do,
    so that the CLI and the app can show it as it is, without a traceback.
    """


@contextmanager
def where(place: str) -> Iterator[None]:
    """Prefix the message of a UserInputError raised inside with ``place`` (a dataset, a file)."""
    try:
        yield
    except UserInputError as error:
        text = str(error)
        raise UserInputError(text if text.startswith(place) else f"{place}: {text}") from None


def log_file() -> Path:
    """Where unexpected errors are written: $CLUSTERING_LOG_FILE, else the user's state folder."""
    if os.environ.get(LOG_VARIABLE):
        return Path(os.environ[LOG_VARIABLE])
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "clustering-studio" / "errors.log"


def report_unexpected(error: BaseException, action: str) -> str:
    """Append the error's traceback to the log file; return one line for the analyst."""
    path = log_file()
    entry = hide_passwords("".join(traceback.format_exception(error)))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC, while {action}\n{entry}\n")
    except OSError:  # an unwritable home: fall back to the temp folder
        path = Path(tempfile.gettempdir()) / "clustering-studio-errors.log"
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- while {action}\n{entry}\n")
    reason = hide_passwords((str(error).strip().splitlines() or [""])[0])[:200]
    return (
        f"Unexpected problem while {action} ({type(error).__name__}{': ' + reason if reason else ''}). "
        f"This is a bug, not your data's fault; the details are in {path}. Your data and settings are kept."
    )
