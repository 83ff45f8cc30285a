"""The one sanitiser: every string that comes from a server or a file reaches the terminal
through :func:`safe` (names, descriptions, ids, error messages), in the TUI and the CLI.

A concept named ``"\\x1b]0;pwned\\x07"`` once retitled the terminal; a name with a
right-to-left override can make ``gpj.exe`` read ``exe.jpg``. ``safe`` keeps printable text
as it is and shows every control, bidi-control and zero-width character as a visible escape
(``\\x1b``, ``\\u202e``), so nothing a server says can move the cursor, change the terminal or
hide text.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL and C1 controls; zero-width and joiner characters;
# bidi embeddings, overrides and isolates; the BOM; interlinear annotation characters.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069"
    "\ufeff\ufff9-\ufffb]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe(text: object, *, one_line: bool = False, limit: int | None = None) -> str:
    """``text`` with every unsafe character made visible; with ``one_line``, line breaks and
    tabs become spaces; with ``limit``, at most that many characters (then an ellipsis)."""
    value = str(text)
    if one_line:
        value = " ".join(value.split())
    value = _UNSAFE.sub(_escape, value)
    if limit is not None and len(value) > limit:
        value = value[: max(0, limit - 1)] + "…"
    return value
