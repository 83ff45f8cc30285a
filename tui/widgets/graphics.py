"""Which way image previews are drawn: Kitty graphics (tgp), Sixel, or half-block characters.

The terminal is asked once, at start, before Textual owns stdin: after that Textual's input
thread reads every reply and would turn it into key presses. `detect_at_start` sends one
batch of queries (a Kitty graphics query, the cell size in pixels, and primary device
attributes, which every terminal answers last) and reads the replies until the device
attributes arrive: one round trip, and none at all when the environment or the config
already says half-block (NO_COLOR, TERM=dumb, tmux, `ui.image_protocol = "halfblock"`, not a
terminal). Sixel is preferred over tgp when both are announced, as textual-image does
(Konsole and WezTerm announce tgp but do not draw its placeholders).

textual-image is imported only when a preview is first drawn with a graphics protocol, with
its own import-time terminal queries switched off and fed what was found at start instead.
Headless runs (Pilot tests) never call `detect_at_start`, so they always get half-block.

Only the standard library is imported here: the CLI calls this before the app is built.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from textual.widget import Widget

Renderer = Literal["tgp", "sixel", "halfblock"]
FORCED: Final = ("tgp", "sixel")
DEFAULT_CELL: Final = (10, 20)
"""Cell size in pixels when the terminal does not say (textual-image assumes a VT340's)."""
PROBE_TIMEOUT: Final = 0.3
"""Longest wait for a terminal that never answers device attributes (almost none)."""

_TGP_QUERY: Final = "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
_CELL_QUERY: Final = "\x1b[16t"
_DA1_QUERY: Final = "\x1b[c"
_DA1_REPLY: Final = re.compile(rb"\x1b\[\?([\d;]*)c")
_TGP_REPLY: Final = re.compile(rb"\x1b_Gi=31;([^\x1b]*)\x1b\\")
_CELL_REPLY: Final = re.compile(rb"\x1b\[6;(\d+);(\d+)t")


def choose_renderer(
    setting: str,
    env: Mapping[str, str],
    *,
    interactive: bool,
    supported: Iterable[str] = (),
) -> Renderer:
    """How to draw previews, from `ui.image_protocol`, the environment and what the terminal
    announced (`supported`: "tgp", "sixel").

    Half-block when: the setting says so; not an interactive terminal (headless, piped, tests);
    NO_COLOR is set; TERM is dumb; inside tmux (which drops graphics without passthrough)
    unless the setting forces a protocol. A forced "tgp" or "sixel" is used without asking.
    """
    if setting == "halfblock" or not interactive:
        return "halfblock"
    if env.get("NO_COLOR") or env.get("TERM", "") == "dumb":
        return "halfblock"
    if setting == "tgp":
        return "tgp"
    if setting == "sixel":
        return "sixel"
    if env.get("TMUX"):
        return "halfblock"
    found = set(supported)
    if "sixel" in found:
        return "sixel"
    if "tgp" in found:
        return "tgp"
    return "halfblock"


@dataclass(frozen=True)
class Replies:
    """What a terminal answered to the start-up queries."""

    supported: frozenset[str] = frozenset()
    cell: tuple[int, int] | None = None
    complete: bool = False
    """The device attributes reply arrived (every reply before it has been read)."""


def parse_replies(data: bytes) -> Replies:
    """Pick the tgp, cell size and device attribute replies out of what the terminal sent."""
    supported: set[str] = set()
    da1 = _DA1_REPLY.search(data)
    if da1 and "4" in da1.group(1).decode("ascii").split(";"):
        supported.add("sixel")
    tgp = _TGP_REPLY.search(data)
    if tgp and tgp.group(1) == b"OK":
        supported.add("tgp")
    cell = None
    if size := _CELL_REPLY.search(data):
        height, width = int(size.group(1)), int(size.group(2))
        if width > 0 and height > 0:
            cell = (width, height)
    return Replies(frozenset(supported), cell, complete=da1 is not None)


def _cell_from_ioctl(fd: int) -> tuple[int, int] | None:
    import fcntl
    import struct
    import termios

    try:
        packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None
    rows, cols, width, height = struct.unpack("HHHH", packed)
    if rows and cols and width and height:
        return width // cols, height // rows
    return None


def probe_terminal(timeout: float = PROBE_TIMEOUT) -> Replies:
    """Ask the terminal (stdin/stdout must be ttys, POSIX only) and read its replies.

    Reads until the device attributes reply, which terminals send after the replies to the
    queries before it; gives up after `timeout` seconds if it never comes.
    """
    import select
    import termios
    import time
    import tty

    stdin, stdout = sys.__stdin__, sys.__stdout__
    if stdin is None or stdout is None:
        return Replies()
    fd_in, fd_out = stdin.fileno(), stdout.fileno()
    cell = _cell_from_ioctl(fd_out)
    saved = termios.tcgetattr(fd_in)
    data = b""
    try:
        tty.setcbreak(fd_in, termios.TCSANOW)  # no echo, no line buffering
        queries = _TGP_QUERY + ("" if cell else _CELL_QUERY) + _DA1_QUERY
        os.write(fd_out, queries.encode("ascii"))
        deadline = time.monotonic() + timeout
        while not _DA1_REPLY.search(data):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd_in], [], [], left)[0]:
                break
            chunk = os.read(fd_in, 1024)
            if not chunk:
                break
            data += chunk
    finally:
        termios.tcsetattr(fd_in, termios.TCSANOW, saved)
    replies = parse_replies(data)
    return Replies(replies.supported, cell or replies.cell, replies.complete)


@dataclass(frozen=True)
class Graphics:
    """The decision taken at start: how previews are drawn and the cell size in pixels."""

    renderer: Renderer = "halfblock"
    cell: tuple[int, int] = DEFAULT_CELL


_current = Graphics()
_loaded: dict[Renderer, type[Widget] | None] = {}


def current() -> Graphics:
    """What `detect_at_start` decided; half-block when it never ran (tests, headless)."""
    return _current


def _interactive() -> bool:
    stdin, stdout = sys.__stdin__, sys.__stdout__
    if os.name != "posix" or stdin is None or stdout is None:
        return False
    try:
        return stdin.isatty() and stdout.isatty()
    except ValueError:  # a closed stream
        return False


def detect_at_start(setting: str, env: Mapping[str, str] | None = None) -> Graphics:
    """Decide once, before the app starts; asks the terminal only if a protocol may be used."""
    global _current
    env = os.environ if env is None else env
    interactive = _interactive()
    maybe = choose_renderer(setting, env, interactive=interactive, supported=FORCED)
    if maybe == "halfblock":
        _current = Graphics()
        return _current
    try:
        replies = probe_terminal()
    except (OSError, ValueError, ImportError):  # termios refused, or no termios at all
        replies = Replies()
    renderer = choose_renderer(setting, env, interactive=interactive, supported=replies.supported)
    _current = Graphics(renderer, replies.cell or DEFAULT_CELL)
    return _current


def image_widget(graphics: Graphics) -> type[Widget] | None:
    """textual-image's widget class for `graphics.renderer`, imported on first use; None for
    half-block, or when textual-image cannot be imported (the preview then draws half-block).
    """
    if graphics.renderer == "halfblock":
        return None
    if graphics.renderer not in _loaded:
        try:
            _loaded[graphics.renderer] = _import_widget(graphics)
        except ImportError:
            _loaded[graphics.renderer] = None
    return _loaded[graphics.renderer]


def _import_widget(graphics: Graphics) -> type[Widget]:
    """Import textual-image without letting it query the terminal (Textual now owns stdin).

    textual-image asks the terminal for Sixel and tgp support when `textual_image.renderable`
    is imported and for the cell size when `textual_image.widget` is; its modules take both
    functions from `textual_image._terminal` by name. Replacing them there first makes the
    queries fail quietly (support is decided already) and hands it the cell size found at
    start.
    """
    from contextlib import contextmanager

    from textual_image import _terminal

    cell_size = _terminal.CellSize(*graphics.cell)

    def get_cell_size() -> _terminal.CellSize:
        return cell_size

    @contextmanager
    def no_terminal_queries(*_args: object, **_kwargs: object):  # type: ignore[no-untyped-def]
        raise _terminal.TerminalError("clarifai-tui asked the terminal at start")
        yield  # a generator, for contextmanager

    _terminal.get_cell_size = get_cell_size
    _terminal.capture_terminal_response = no_terminal_queries
    from textual_image import widget

    cls: type[Widget] = widget.TGPImage if graphics.renderer == "tgp" else widget.SixelImage
    return cls
