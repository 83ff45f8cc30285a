"""What an upload reports and how it is steered: item states, `ItemEvent` and
`ProgressEvent`, the final `UploadSummary`, and `UploadController` (pause, resume, cancel).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal


class ItemState(StrEnum):
    QUEUED = "queued"
    UPLOADING = "uploading"
    ACKNOWLEDGED = "acknowledged"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


SETTLED_STATES: Final = frozenset({ItemState.DONE, ItemState.FAILED})
_ACCEPTED_STATES: Final = frozenset({ItemState.ACKNOWLEDGED, ItemState.PROCESSING, *SETTLED_STATES})
Outcome = Literal["uploaded", "already_present", "failed", ""]


@dataclass(frozen=True)
class ItemEvent:
    """An item changed state. `outcome` is set once it is settled."""

    key: str
    label: str
    state: ItemState
    input_id: str = ""
    outcome: Outcome = ""
    reason: str = ""


@dataclass(frozen=True)
class ProgressEvent:
    total: int
    queued: int
    uploading: int
    processing: int
    """Acknowledged or processing on the server."""
    uploaded: int
    already_present: int
    failed: int
    rate: float
    """Items per second (acknowledged or settled) since the run started, pauses excluded."""
    eta: float | None
    elapsed: float
    paused: bool = False

    @property
    def settled(self) -> int:
        return self.uploaded + self.already_present + self.failed


@dataclass(frozen=True)
class ItemReport:
    label: str
    input_id: str
    reason: str = ""


@dataclass(frozen=True)
class UploadSummary:
    uploaded: tuple[ItemReport, ...] = ()
    already_present: tuple[ItemReport, ...] = ()
    failed: tuple[ItemReport, ...] = ()
    pending: tuple[ItemReport, ...] = ()
    """Not settled: the run was cancelled, or processing outlasted the timeout."""
    cancelled: bool = False
    elapsed: float = 0.0

    @property
    def total(self) -> int:
        return len(self.uploaded) + len(self.already_present) + len(self.failed) + len(self.pending)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.pending and not self.cancelled


UploadEvent = ItemEvent | ProgressEvent
EventCallback = Callable[[UploadEvent], None]


class UploadController:
    """Pause, resume and cancel a running upload (from any task on the same loop)."""

    def __init__(self) -> None:
        self._running = asyncio.Event()
        self._running.set()
        self._cancelled = False

    @property
    def paused(self) -> bool:
        return not self._running.is_set() and not self._cancelled

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def pause(self) -> None:
        if not self._cancelled:
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def cancel(self) -> None:
        self._cancelled = True
        self._running.set()

    async def wait_running(self) -> bool:
        """Wait while paused; False once cancelled."""
        await self._running.wait()
        return not self._cancelled
