"""What the Uploads area's queue rows and the lines under the queue say, from the engine's
events: plain text, no widgets (the screen puts it in its table and lines)."""

from __future__ import annotations

from pathlib import Path

from api.upload import ItemEvent, ItemState, ProgressEvent, UploadSource, UploadSummary

STATE_STYLES: dict[str, str] = {
    "queued": "dim",
    "uploading": "cyan",
    "acknowledged": "blue",
    "processing": "yellow",
    "done": "green",
    "failed": "bold red",
    "cancelled": "dim",
}

#: The counts line while nothing is queued.
EMPTY_QUEUE = "queue empty: space marks, a adds, u pastes URLs"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def row_label(source: UploadSource) -> str:
    """The item column: a file's name, else the source's label; a video's says so."""
    mark = "video " if source.video else ""
    if source.kind == "file" and source.path is not None:
        return mark + source.path.name
    return mark + source.label


def item_row(event: ItemEvent) -> tuple[str, str]:
    """The state and the id / reason column an item's event gives its row."""
    state = event.state.value
    if event.state is ItemState.FAILED:
        detail = event.reason or "failed"
    elif event.state is ItemState.DONE:
        if event.outcome == "already_present":
            state = "done"
            detail = "already in the app" + (f" ({event.reason})" if event.reason else "")
        else:
            detail = event.input_id
    else:
        detail = event.input_id
    return state, detail


def cancelled_detail(state: str | None) -> str | None:
    """Why a row in this state is cancelled when its batch is; None when it is settled."""
    if state in ("queued", "uploading"):
        return "not sent"
    if state in ("acknowledged", "processing"):
        return "accepted; processing continues"
    return None


def detail_line(key: str, state: str, reason: str) -> str:
    """An item in full under the table (the table cuts long reasons)."""
    kind, _, rest = key.partition(":")
    name = Path(rest.rsplit(":", 2)[0]).name if kind == "file" else rest
    text = f"{name}: {state}"
    if reason:
        text += f": {reason}"
    return text


def counts_line(p: ProgressEvent, *, running: bool, paused: bool, unfinished: bool) -> str:
    """The counts beside the progress bar: settled of total, failures, rate and ETA, and
    whether the run is paused or stopped with batches left."""
    parts = [f"{p.settled}/{p.total}"]
    if p.failed:
        parts.append(f"{p.failed} failed")
    if p.already_present:
        parts.append(f"{p.already_present} present")
    if running:
        if p.processing:
            parts.append(f"{p.processing} processing")
        parts.append(f"{p.rate:.1f}/s")
        parts.append(f"ETA {duration(p.eta)}")
    if paused:
        parts.append("PAUSED (p resumes)")
    elif not running and unfinished:
        parts.append("stopped (p resumes)")
    return " · ".join(parts)


def finished_line(summary: UploadSummary) -> str:
    """The message after a batch settled."""
    return (
        f"finished: {len(summary.uploaded)} new, "
        f"{len(summary.already_present)} already there, "
        f"{len(summary.failed)} failed"
    )


def settings_line(recursive: bool, concepts: tuple[str, ...], marked: int, message: str) -> str:
    """The status line over the browser and the queue once an app is chosen: the settings
    for the next batch, how many entries are marked, and the last message."""
    parts = [
        f"recursive {'on' if recursive else 'off'} (r)",
        f"concepts: {', '.join(concepts) or '-'} (c)",
    ]
    if marked:
        parts.append(f"{marked} marked")
    if message:
        parts.append(message)
    return " · ".join(parts)
