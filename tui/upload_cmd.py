"""`clarifai-tui upload PATH... [--app APP] [--concept C]... [--recursive] [--urls FILE]`:
images and videos (`api.upload`).

A thin front end over `api.upload`: a progress bar with counts, rate and ETA on a terminal
(plain lines otherwise), then a summary. Exit status (tui/cli_errors.py): 0 when everything is
in the app, 1 when anything failed or is still pending, 2 when the run could not go on (one
line says why and what to do; running the same command again resumes). A run that stopped
part-way (the server failing or hanging past the retries) still prints its summary first:
what was sent, what failed and why, what is not finished.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from api.errors import ApiError
from api.upload import (
    ItemEvent,
    ItemState,
    ProgressEvent,
    Uploader,
    UploadEvent,
    UploadOptions,
    UploadSummary,
    collect_sources,
)
from api.video import MAX_VIDEO_BYTES, MAX_VIDEO_SECONDS
from tui.cli_errors import EXIT_CANNOT_RUN, print_error
from tui.widgets.text import safe

if TYPE_CHECKING:
    from api.client import ClarifaiClient
    from api.retry import RetryNotice

BAR_WIDTH = 24
PLAIN_EVERY = 5.0


def add_upload_arguments(parser: argparse.ArgumentParser) -> None:
    """Upload options (`--app` comes from the common options of the CLI)."""
    parser.description = (
        "Upload image and video files, folders and URLs into an app. Resumable: if "
        "interrupted, run the same command again; nothing is uploaded twice. Videos (.mp4, "
        f".mov, .webm, .mkv, .avi, ...) go one a request; a video file over "
        f"{MAX_VIDEO_BYTES // (1024 * 1024)} MB or {MAX_VIDEO_SECONDS // 60} minutes, or one "
        "that cannot be read, is reported and not sent."
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="image and video files, and folders of them"
    )
    parser.add_argument(
        "-r", "--recursive", action="store_true", help="also upload from sub-folders"
    )
    parser.add_argument(
        "--urls",
        metavar="FILE",
        action="append",
        default=[],
        help="a text file of image or video URLs, one a line (a URL whose path ends in "
        ".mp4, .mov, ... is a video; repeatable)",
    )
    parser.add_argument(
        "--concept",
        metavar="C",
        action="append",
        default=[],
        help="label every uploaded input with concept C (repeatable; created if missing)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, metavar="N", help="batches in flight (default 4)"
    )
    parser.add_argument(
        "--create-app",
        action="store_true",
        help="create the app (on the base workflow Universal) if it does not exist",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="stop once the server has accepted every input (do not follow processing)",
    )


async def ensure_app(client: ClarifaiClient, *, create: bool, err: TextIO) -> bool:
    """True when the client's app exists (made now, with ``create``); else say so on ``err``,
    in one line that names the app and ``--create-app``, and return False."""
    app_id = client.app_id or ""
    if await client.app_exists():
        return True
    if not create:
        err.write(
            safe(
                f"clarifai-tui upload: app {app_id!r} does not exist for user "
                f"{client.user_id!r} at {client.base_url}; add --create-app to create it, "
                "or name another app with --app",
                one_line=True,
            )
            + "\n"
        )
        return False
    await client.create_app(app_id)
    err.write(safe(f"created app {app_id!r}", one_line=True) + "\n")
    return True


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(p: ProgressEvent) -> str:
    done = p.settled
    fraction = done / p.total if p.total else 1.0
    filled = int(fraction * BAR_WIDTH)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    state = " paused" if p.paused else ""
    return (
        f"[{bar}] {done}/{p.total} · new {p.uploaded} · present {p.already_present} · "
        f"failed {p.failed} · processing {p.processing} · {p.rate:.1f}/s · "
        f"ETA {_duration(p.eta)}{state}"
    )


class ProgressPrinter:
    """Renders events: a redrawn bar on a tty, periodic lines and failures otherwise."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._last_plain = 0.0
        self._drawn = False
        self._progress: ProgressEvent | None = None

    def __call__(self, event: UploadEvent) -> None:
        if isinstance(event, ProgressEvent):
            self._progress = event
            if self.tty:
                self.stream.write("\r\x1b[2K" + progress_line(event))
                self._drawn = True
                self.stream.flush()
            else:
                now = time.monotonic()
                if now - self._last_plain >= PLAIN_EVERY or event.settled == event.total:
                    self._last_plain = now
                    self.stream.write(progress_line(event) + "\n")
                    self.stream.flush()
        elif isinstance(event, ItemEvent) and event.state is ItemState.FAILED:
            self._clear()
            self.stream.write(safe(f"failed: {event.label}: {event.reason}", one_line=True) + "\n")
            self.stream.flush()

    def retrying(self, notice: RetryNotice) -> None:
        """A request failed and waits to be tried again: say so (above the bar, on a tty)."""
        self._clear()
        self.stream.write(safe(notice.message, one_line=True) + "\n")
        if self.tty and self._progress is not None:
            self.stream.write(progress_line(self._progress))
            self._drawn = True
        self.stream.flush()

    def _clear(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[2K")
            self._drawn = False

    def finish(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self._drawn = False
            self.stream.flush()


def format_summary(summary: UploadSummary) -> str:
    lines = [
        f"uploaded: {len(summary.uploaded)}, already present: {len(summary.already_present)}, "
        f"failed: {len(summary.failed)}"
        + (f", not finished: {len(summary.pending)}" if summary.pending else "")
        + f" ({_duration(summary.elapsed)})"
    ]
    if summary.failed:
        lines.append("failed:")
        lines.extend("  " + safe(f"{r.label}: {r.reason}", one_line=True) for r in summary.failed)
    if summary.pending:
        lines.append("not finished (run the same command again to resume):")
        lines.extend("  " + safe(f"{r.label}: {r.reason}", one_line=True) for r in summary.pending)
    return "\n".join(lines)


async def run_upload_command(
    client: ClarifaiClient,
    args: argparse.Namespace,
    state_dir: Path,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    paths = list(getattr(args, "paths", []) or [])
    url_files = list(getattr(args, "urls", []) or [])
    if not paths and not url_files:
        err.write("clarifai-tui upload: nothing to upload: give files, folders or --urls FILE\n")
        return 2
    sources = collect_sources(
        paths,
        recursive=bool(args.recursive),
        url_files=url_files,
        extensions=getattr(args, "extensions", None),
    )
    if not sources:
        err.write(
            "clarifai-tui upload: no image or video files found (use --recursive for sub-folders)\n"
        )
        return 2
    try:
        if not await ensure_app(client, create=bool(getattr(args, "create_app", False)), err=err):
            return EXIT_CANNOT_RUN
    except ApiError as exc:
        print_error("upload", exc, err)
        return EXIT_CANNOT_RUN
    printer = ProgressPrinter(err)
    options = UploadOptions(
        concepts=tuple(dict.fromkeys(getattr(args, "concept", []) or [])),
        concurrency=max(1, int(getattr(args, "concurrency", 4) or 4)),
        follow_processing=not getattr(args, "no_wait", False),
    )
    uploader = Uploader(client, state_dir=state_dir, options=options, on_event=printer)
    client.set_retry_listener(printer.retrying)
    try:
        summary = await uploader.run(sources)
    except ApiError as exc:
        printer.finish()
        out.write(format_summary(uploader.summary()) + "\n")
        out.flush()
        print_error("upload", exc, err)
        return EXIT_CANNOT_RUN
    except OSError as exc:
        printer.finish()
        print_error("upload", exc, err)
        return EXIT_CANNOT_RUN
    finally:
        client.set_retry_listener(None)
    printer.finish()
    out.write(format_summary(summary) + "\n")
    out.flush()
    return 0 if summary.ok else 1
