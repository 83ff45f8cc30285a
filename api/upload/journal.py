"""The resume journal: one SQLite file per app under `state_dir/uploads/` with each source's
input id and state (`Journal`), written from a thread of its own (`_JournalWriter`) so that
an fsync never stalls the calls in flight. What each state means on resume: `api.upload`.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from api.client import ClarifaiClient
from api.upload.events import ItemState, Outcome
from api.upload.scan import UploadSource


@dataclass
class _Item:
    source: UploadSource
    state: ItemState = ItemState.QUEUED
    input_id: str = ""
    outcome: Outcome = ""
    reason: str = ""
    sent_before: bool = False
    """A previous (killed) run may have sent it: a duplicate answer means it was ours."""
    missing_polls: int = 0
    verify_only: bool = False
    """Settled in a previous run; only checked on the server."""


_Row = tuple[str, str, str, str, str, str, float]


class Journal:
    """SQLite (WAL, synchronous=FULL) record of each source's input id and state.

    Used from one thread at a time: the event loop's while loading and closing, the
    `_JournalWriter`'s thread in between.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS items (key TEXT PRIMARY KEY, label TEXT NOT NULL, "
            "input_id TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, "
            "outcome TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '', "
            "updated REAL NOT NULL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")

    @classmethod
    def for_app(cls, state_dir: Path, client: ClarifaiClient) -> Journal:
        scope = f"{client.base_url}\n{client.user_id}\n{client.app_id}"
        digest = hashlib.sha256(scope.encode()).hexdigest()[:12]
        safe_app = "".join(c if c.isalnum() or c in "-_" else "_" for c in client.app_id or "")
        return cls(state_dir / "uploads" / f"{safe_app}-{digest}.sqlite")

    def close(self) -> None:
        self._db.close()

    def load(self) -> dict[str, tuple[str, str, str, str]]:
        rows = self._db.execute("SELECT key, input_id, state, outcome, reason FROM items")
        return {k: (i, s, o, r) for k, i, s, o, r in rows}

    def run_open(self) -> bool:
        row = self._db.execute("SELECT value FROM meta WHERE name='run'").fetchone()
        return bool(row and row[0] == "open")

    def set_run(self, state: Literal["open", "closed"]) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('run', ?)", (state,))

    @staticmethod
    def rows(items: Iterable[_Item], state: ItemState | None = None) -> list[_Row]:
        """The items' current states (or `state`) as rows, taken on the event loop."""
        now = time.time()
        return [
            (
                i.source.key,
                i.source.label,
                i.input_id,
                (state or i.state).value,
                i.outcome,
                i.reason,
                now,
            )
            for i in items
        ]

    def write(self, rows: Sequence[_Row], meta: Sequence[tuple[str, str]] = ()) -> None:
        """Write `rows` (and `meta` values) in one transaction; on disk when this returns."""
        if not rows and not meta:
            return
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO items (key, label, input_id, state, outcome, reason, "
                "updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._db.executemany("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", meta)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def save(self, items: Iterable[_Item]) -> None:
        self.write(self.rows(items))


class _JournalWriter:
    """Writes journal rows on a thread of its own, so that an fsync never stalls the event
    loop (which meanwhile sends and receives the other batches in flight).

    Group commit: whatever is put while a transaction is being written goes into the next
    one, the newest state of an item replacing an older one not yet written. `put` returns
    at once (for states whose loss a resume repairs: see `api.upload`); `durable()`
    is a future that is done once everything put so far is on disk (`uploading` must be,
    before the PostInputs call). The first failure to write fails every later `durable()`
    and `close()`.
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="upload-journal")
        self._pending: dict[str, _Row] = {}
        self._meta: dict[str, str] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    def put(self, items: Iterable[_Item], state: ItemState | None = None) -> None:
        for row in Journal.rows(items, state):
            self._pending[row[0]] = row
        self._kick()

    def put_meta(self, name: str, value: str) -> None:
        self._meta[name] = value
        self._kick()

    def durable(self) -> asyncio.Future[None]:
        """Done once everything put so far is on disk."""
        waiter = asyncio.get_running_loop().create_future()
        waiter.add_done_callback(_retrieve)  # its awaiter may be gone (a cancelled run)
        if self._error is not None:
            waiter.set_exception(self._error)
        elif not self._pending and not self._meta and self._task is None:
            waiter.set_result(None)
        else:
            self._waiters.append(waiter)
            self._kick()
        return waiter

    def _kick(self) -> None:
        if self._task is None and self._error is None and (self._pending or self._meta):
            self._task = asyncio.get_running_loop().create_task(self._drain())

    def _take(self) -> tuple[list[_Row], list[tuple[str, str]]]:
        rows, meta = list(self._pending.values()), list(self._meta.items())
        self._pending, self._meta = {}, {}
        return rows, meta

    async def _drain(self) -> None:
        try:
            while self._pending or self._meta or self._waiters:
                waiters, self._waiters = self._waiters, []
                # Submitted in the same step as taken, and shielded: a cancellation cannot
                # lose them, and `close` waits for the thread.
                writing = asyncio.wrap_future(
                    self._executor.submit(self.journal.write, *self._take())
                )
                writing.add_done_callback(_retrieve)
                try:
                    await asyncio.shield(writing)
                except asyncio.CancelledError:
                    for waiter in waiters:
                        waiter.cancel()
                    raise
                except Exception as exc:
                    self._error = exc
                    for waiter in [*waiters, *self._waiters]:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    self._waiters = []
                    return
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
        finally:
            self._task = None

    def close(self) -> None:
        """Stop the writer and write what is left, here and now (also after a cancel)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._executor.shutdown(wait=True)  # the transaction in progress, if any
        for waiter in self._waiters:
            waiter.cancel()
        self._waiters = []
        if self._error is not None:
            raise self._error
        self.journal.write(*self._take())


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a shielded future's outcome as seen (its awaiter may have been cancelled)."""
    if not future.cancelled():
        future.exception()
