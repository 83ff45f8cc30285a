"""The store's core: connections per thread, the write lock, transactions, checkpoints.

The embedded backend keeps its data in SQLite (WAL) plus content-addressed blobs; the
methods for each aggregate are mixins over :class:`StoreCore` in the sibling modules
(``blobs``, ``apps``, ``inputs``, ``jobs``, ``annotations``) and :class:`api.local.store.Store`
combines them.

Blobs (image bytes, thumbnails) are addressed by their sha256. Small ones (up to
``INLINE_BLOB_MAX``, which covers thumbnails and most small images) are rows of table ``blobs``,
written in the same transaction as the rows that refer to them; larger ones are files
``blobs/ab/<sha256>`` under the data dir.

Durability: the database runs in WAL mode with ``synchronous=FULL``, so a committed transaction
survives ``kill -9`` (and power loss), small blobs included. Blob files are written to temp
files, synced and renamed into place (and the renames synced) *before* the row that refers to
them commits.

Threads: every method is synchronous and may be called from any thread. Each thread gets its own
connection; writers are serialised by one lock (``BEGIN IMMEDIATE`` under it), readers never
block thanks to WAL. Async callers run these methods with ``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from api.local.migrations import migrate

log = logging.getLogger(__name__)

#: Write transactions between two WAL checkpoints (see Store._checkpoint_loop).
_CHECKPOINT_EVERY = 8
#: A WAL larger than this is checkpointed with RESTART, so that it starts over.
WAL_RESTART_BYTES = 32 * 1024 * 1024


class StoreCore:
    """The database file, one connection per thread and the write and read transactions."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.db_path = self.data_dir / "clarifai-tui.sqlite3"
        self.blob_dir = self.data_dir / "blobs"
        self._local = threading.local()
        #: Every open connection with the thread it belongs to (see `close`).
        self._conns: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._conns_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._open = False
        self.schema_version = 0
        self._commits = 0
        self._checkpoint_due = threading.Event()
        self._checkpointer: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def open(self) -> None:
        """Create the data dir and database if needed and apply pending migrations.

        The data dir is kept 0700 and what is made in it 0600: it holds every image and
        annotation, which no other local user should read (an existing dir is tightened)."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.data_dir, 0o700)
        self.blob_dir.mkdir(exist_ok=True, mode=0o700)
        # SQLite gives the -wal and -shm files the database file's mode.
        os.close(os.open(self.db_path, os.O_RDWR | os.O_CREAT, 0o600))
        self._open = True
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        with self._write_lock:
            self.schema_version = migrate(conn)
        self._commits = 0
        self._checkpoint_due = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="clarifai-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def close(self) -> None:
        """Checkpoint the WAL and let go of every connection (from any thread).

        A connection is closed here only when its thread is this one or has ended. A thread
        still running may be inside a query (a training job past its stop grace, a request
        handler): closing its connection under it frees memory the query still reads, and
        the process dies of a segmentation fault. Such a connection is only dropped, and
        closes when its thread lets go of it; its next `_conn()` finds the store closed."""
        was_open, self._open = self._open, False
        if self._checkpointer is not None:
            self._checkpoint_due.set()
            self._checkpointer.join()
            self._checkpointer = None
        with self._conns_lock:
            conns, self._conns = self._conns, []
        me = threading.current_thread()
        for owner, conn in conns:
            if owner is me or not owner.is_alive():
                conn.close()
        del conns
        if not was_open:
            return
        try:
            final = sqlite3.connect(self.db_path, isolation_level=None, timeout=1.0)
            try:
                final.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                final.close()
        except sqlite3.Error:
            pass  # a busy database is checkpointed at the next start
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if not self._open:
            raise RuntimeError("the store is closed; call LocalBackend.start() first")
        conn = sqlite3.connect(
            self.db_path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        # Checkpoints are made by the checkpointer thread, not by whichever writer commits
        # when the WAL passes 1,000 pages (it would hold the write lock meanwhile).
        conn.execute("PRAGMA wal_autocheckpoint=0")
        # A WAL that grew large once (a burst of uploads) is cut back when it starts over.
        conn.execute(f"PRAGMA journal_size_limit={WAL_RESTART_BYTES * 2}")
        self._local.conn = conn
        with self._conns_lock:
            self._conns.append((threading.current_thread(), conn))
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: serialised, committed on exit, rolled back on error."""
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:  # SQLite already rolled back on e.g. SQLITE_FULL
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self._commits += 1
            if self._commits >= _CHECKPOINT_EVERY:
                self._commits = 0
                self._checkpoint_due.set()

    def _checkpoint_loop(self) -> None:
        """Copy committed WAL pages into the database now and then, beside the writers.

        Usually PASSIVE, which never waits for anyone: what it cannot copy now, a later round
        does. But under a steady load some reader always holds an older snapshot, so the WAL is
        never fully copied, never starts over, and grows without bound (and every commit then
        extends the file, which makes its sync slower). Once the WAL passes WAL_RESTART_BYTES a
        RESTART checkpoint waits for those readers (briefly holding up writers) so that the next
        commit writes the WAL from its start again. A failed round (a full disk) is tried again
        later.
        """
        while self._open:
            self._checkpoint_due.wait()
            self._checkpoint_due.clear()
            if not self._open:
                return
            try:
                self.checkpoint()
            except (sqlite3.Error, RuntimeError, OSError):
                log.debug("WAL checkpoint failed; trying again later", exc_info=True)

    def checkpoint(self) -> str:
        """One checkpoint round (see _checkpoint_loop); returns the mode it used."""
        wal = self.db_path.with_name(self.db_path.name + "-wal")
        size = wal.stat().st_size if wal.exists() else 0
        mode = "RESTART" if size > WAL_RESTART_BYTES else "PASSIVE"
        self._conn().execute(f"PRAGMA wal_checkpoint({mode})")
        return mode

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read snapshot (several SELECTs see the same data)."""
        conn = self._conn()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")
