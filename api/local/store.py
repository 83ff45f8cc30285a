"""SQLite (WAL) storage plus content-addressed blobs for the embedded backend.

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

import ctypes
import json
import logging
import os
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from api.local import search
from api.local.migrations import migrate
from api.local.rows import (
    AddedInput,
    AnnotationFilter,
    AnnotationPatch,
    AnnotationRow,
    AppPatch,
    AppRow,
    ConceptRow,
    ConceptValue,
    InputCounts,
    InputPatch,
    InputRow,
    Job,
    JobResult,
    NewAnnotation,
    NewInput,
)
from api.local.sql import (
    _chunks,
    _dump,
    _json_or_none,
    _marks,
    _sha,
    merge_concepts,
    merge_struct,
    new_id,
    remove_struct,
)
from api.local.status import (
    ANNOTATION_SUCCESS,
    CONCEPTS_INVALID_REQUEST,
    CONN_INVALID_REQUEST,
    INPUT_DUPLICATE,
    INPUT_FAILED,
    INPUT_IN_PROGRESS,
    INPUT_PENDING,
    INPUT_SUCCESS,
    ApiFailure,
    not_found,
)

# The helpers now live in api.local.sql (migrations need new_id without importing the store);
# these names stay importable from here.
__all__ = [
    "INLINE_BLOB_MAX",
    "WAL_RESTART_BYTES",
    "Store",
    "_chunks",
    "_dump",
    "_json_or_none",
    "_marks",
    "_sha",
    "merge_concepts",
    "merge_struct",
    "new_id",
    "remove_struct",
]


def _find_syncfs() -> Any:
    """Linux ``syncfs(2)`` through libc (None elsewhere, or if libc does not have it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The process's own symbols include libc's; find_library would spawn ldconfig.
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.syncfs
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int]
    func.restype = ctypes.c_int
    return func


log = logging.getLogger(__name__)

#: One sync of the blob filesystem per batch instead of an fsync per file (see put_blobs).
_syncfs = _find_syncfs()

_INPUT_COLUMNS = (
    "pk, app_pk, id, source_url, blob_sha, thumb_sha, width, height, format, color_mode, "
    "metadata, status_code, status_description, workflow_status_code, "
    "workflow_status_description, created_at, modified_at"
)
_APP_COLUMNS = "pk, id, user_id, name, description, default_workflow_id, created_at, modified_at"
_ANNOTATION_COLUMNS = (
    "a.pk, a.app_pk, a.input_pk, i.id, a.id, a.user_id, a.model_version_id, "
    "a.workflow_version_id, a.metadata, a.annotation_info, a.status_code, a.status_description, "
    "a.input_level, a.created_at, a.modified_at"
)
#: Write transactions between two WAL checkpoints (see Store._checkpoint_loop).
_CHECKPOINT_EVERY = 8
#: A WAL larger than this is checkpointed with RESTART, so that it starts over.
WAL_RESTART_BYTES = 32 * 1024 * 1024
#: Blobs up to this size are kept in the database (table ``blobs``), committed in the same
#: transaction as the rows that refer to them: SQLite reads and writes small blobs faster than a
#: file each (https://www.sqlite.org/intern-v-extern-blob.html), and creating one file per
#: small image was most of the cost of PostInputs. Larger blobs are files under ``blobs/``.
INLINE_BLOB_MAX = 256 * 1024


def _inline(data: bytes) -> bool:
    return len(data) <= INLINE_BLOB_MAX


class Store:
    """The embedded backend's database and blob directory (see the module docstring)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.db_path = self.data_dir / "clarifai-tui.sqlite3"
        self.blob_dir = self.data_dir / "blobs"
        #: Blob bucket dirs (``blobs/ab``) known to exist: a mkdir of an existing dir is a
        #: costly syscall on some filesystems, and put_blobs would make one per blob.
        self._buckets: set[str] = set()
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

    # -- blobs ---------------------------------------------------------------------------------

    def blob_path(self, sha: str) -> Path:
        """Where a blob larger than INLINE_BLOB_MAX is kept (smaller ones are in the database)."""
        return self.blob_dir / sha[:2] / sha

    def put_blobs(self, blobs: Iterable[bytes]) -> list[str]:
        """Store content-addressed blobs durably, returning their sha256 hex digests."""
        items = list(blobs)
        shas = self.stage_blobs(items)
        small = [(sha, data) for sha, data in zip(shas, items, strict=True) if _inline(data)]
        if small:
            with self.write() as conn:
                self._keep_inline(conn, small)
        return shas

    def stage_blobs(self, blobs: Sequence[bytes]) -> list[str]:
        """The sha256 of each blob; the ones too large to keep in the database are written to
        files now (durably, see _write_files). The small ones are *not* stored here: the write
        transaction that refers to them stores them (add_inputs and finish_jobs take the bytes),
        so a small blob and its rows commit together, with one sync of the WAL."""
        shas = [_sha(data) for data in blobs]
        large = [(sha, data) for sha, data in zip(shas, blobs, strict=True) if not _inline(data)]
        if large:
            self._write_files(large)
        return shas

    def _keep_inline(self, conn: sqlite3.Connection, blobs: Iterable[tuple[str, bytes]]) -> None:
        conn.executemany("INSERT OR IGNORE INTO blobs (sha, data) VALUES (?, ?)", blobs)

    def _keep_blobs(
        self, conn: sqlite3.Connection, blobs: Iterable[tuple[str | None, bytes | None]]
    ) -> None:
        """Inside a write transaction: store the small blobs of rows being written, and rewrite
        any large one that a concurrent delete collected since it was staged."""
        small: list[tuple[str, bytes]] = []
        for sha, data in blobs:
            if not sha or data is None:
                continue
            if _inline(data):
                small.append((sha, data))
            elif not self.blob_path(sha).exists():
                self._write_files([(sha, data)])
        if small:
            self._keep_inline(conn, small)

    def _write_files(self, blobs: Sequence[tuple[str, bytes]]) -> None:
        """Write blob files so that a file under its final name is always complete.

        Each new blob goes to a temp file beside its final name. The temp files are made durable
        together (one ``syncfs`` of the blob filesystem on Linux, else an fsync each), only then
        renamed into place, and the renames made durable the same way. So a batch costs two
        filesystem syncs, not an fsync per file.
        """
        pending: list[tuple[Path, Path]] = []  # (temp file, final path)
        seen: set[str] = set()
        dirs: set[Path] = set()
        batched = _syncfs is not None
        try:
            for sha, data in blobs:
                if sha in seen:
                    continue
                seen.add(sha)
                path = self.blob_path(sha)
                if path.exists():
                    continue
                tmp = path.parent / f".tmp-{uuid.uuid4().hex}"
                fd = self._create(tmp)
                pending.append((tmp, path))
                try:
                    view = memoryview(data)
                    while view:
                        written = os.write(fd, view)
                        view = view[written:]
                    if not batched:
                        os.fsync(fd)
                finally:
                    os.close(fd)
                dirs.add(path.parent)
            if not pending:
                return
            if batched:
                self._sync_blob_fs()
            for tmp, path in pending:
                os.replace(tmp, path)
            pending = []
            if batched:
                self._sync_blob_fs()
            else:
                for directory in dirs:
                    fd = os.open(directory, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
        except BaseException:
            for tmp, _ in pending:
                with suppress(FileNotFoundError):
                    tmp.unlink()  # never leave a partial temp file behind (a full disk)
            raise

    def _create(self, tmp: Path) -> int:
        """Open a new temp file in its bucket dir, making the dir the first time it is used."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        bucket = tmp.parent.name
        if bucket not in self._buckets:
            tmp.parent.mkdir(exist_ok=True, mode=0o700)
            self._buckets.add(bucket)
        try:
            return os.open(tmp, flags, 0o600)
        except FileNotFoundError:  # the dir was removed behind our back
            tmp.parent.mkdir(exist_ok=True, mode=0o700)
            return os.open(tmp, flags, 0o600)

    def sweep_temp_files(self) -> int:
        """Remove the ``.tmp-*`` files a killed writer left in the blob buckets; returns how
        many. Call it only while holding the data-dir lock: then no writer is running."""
        removed = 0
        try:
            buckets = list(os.scandir(self.blob_dir))
        except FileNotFoundError:
            return 0
        for bucket in buckets:
            if not bucket.is_dir(follow_symlinks=False):
                continue
            with os.scandir(bucket.path) as entries:
                for entry in entries:
                    if entry.name.startswith(".tmp-") and entry.is_file(follow_symlinks=False):
                        with suppress(FileNotFoundError):
                            os.unlink(entry.path)
                            removed += 1
        return removed

    def _sync_blob_fs(self) -> None:
        assert _syncfs is not None
        fd = os.open(self.blob_dir, os.O_RDONLY)
        try:
            if _syncfs(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"syncfs failed: {os.strerror(err)}", str(self.blob_dir))
        finally:
            os.close(fd)

    def put_blob(self, data: bytes) -> str:
        return self.put_blobs([data])[0]

    def read_blob(self, sha: str) -> bytes:
        """A blob's bytes, from the database or its file (FileNotFoundError if neither)."""
        row = self._conn().execute("SELECT data FROM blobs WHERE sha = ?", (sha,)).fetchone()
        if row is not None:
            return bytes(row[0])
        return self.blob_path(sha).read_bytes()

    def blob_location(self, sha: str) -> str:
        """Where a blob lives, for messages: its file, or the database table."""
        path = self.blob_path(sha)
        return str(path) if path.exists() else f"{self.db_path} (table blobs, sha {sha})"

    def _collect_blobs(self, conn: sqlite3.Connection, shas: set[str]) -> None:
        """Delete blobs no input refers to any more (called in a write transaction). A file is
        only unlinked if its row is gone for good: the caller's commit follows at once."""
        for sha in shas:
            used = conn.execute(
                "SELECT 1 FROM inputs WHERE blob_sha = ? OR thumb_sha = ? LIMIT 1", (sha, sha)
            ).fetchone()
            if used is None:
                conn.execute("DELETE FROM blobs WHERE sha = ?", (sha,))
                with suppress(FileNotFoundError):
                    self.blob_path(sha).unlink()

    # -- apps ----------------------------------------------------------------------------------

    @staticmethod
    def _app(row: Sequence[Any]) -> AppRow:
        return AppRow(*row)

    def create_apps(self, user_id: str, apps: Sequence[AppPatch]) -> list[AppRow]:
        now = time.time()
        with self.write() as conn:
            for app in apps:
                exists = conn.execute(
                    "SELECT 1 FROM apps WHERE user_id = ? AND id = ?", (user_id, app.id)
                ).fetchone()
                if exists:
                    raise ApiFailure(
                        CONN_INVALID_REQUEST,
                        f"app '{app.id}' already exists; pick another id or use PatchApps",
                    )
                conn.execute(
                    "INSERT INTO apps (user_id, id, name, description, default_workflow_id, "
                    "created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        user_id,
                        app.id,
                        app.name or app.id,
                        app.description or "",
                        app.default_workflow_id or "",
                        now,
                        now,
                    ),
                )
            ids = [a.id for a in apps]
            rows = conn.execute(
                f"SELECT {_APP_COLUMNS} FROM apps WHERE user_id = ? AND id IN ({_marks(len(ids))})",
                (user_id, *ids),
            ).fetchall()
        by_id = {r.id: r for r in map(self._app, rows)}
        return [by_id[i] for i in ids]

    def get_app(self, user_id: str, app_id: str) -> AppRow | None:
        row = (
            self._conn()
            .execute(
                f"SELECT {_APP_COLUMNS} FROM apps WHERE user_id = ? AND id = ?", (user_id, app_id)
            )
            .fetchone()
        )
        return None if row is None else self._app(row)

    def list_apps(self, user_id: str, limit: int, offset: int) -> list[AppRow]:
        rows = (
            self._conn()
            .execute(
                f"SELECT {_APP_COLUMNS} FROM apps WHERE user_id = ? "
                "ORDER BY pk DESC LIMIT ? OFFSET ?",
                (user_id, limit, offset),
            )
            .fetchall()
        )
        return [self._app(r) for r in rows]

    def patch_apps(self, user_id: str, patches: Sequence[AppPatch], action: str) -> list[AppRow]:
        now = time.time()
        out: list[AppRow] = []
        with self.write() as conn:
            for patch in patches:
                row = conn.execute(
                    f"SELECT {_APP_COLUMNS} FROM apps WHERE user_id = ? AND id = ?",
                    (user_id, patch.id),
                ).fetchone()
                if row is None:
                    raise not_found("app", patch.id, "Create it with PostApps first.")
                app = self._app(row)
                if action == "remove":
                    if patch.default_workflow_id is not None:
                        # An app always has a default workflow: back to the base workflow.
                        app.default_workflow_id = "clarifai/main/Universal"
                    if patch.description is not None:
                        app.description = ""
                else:
                    if patch.name:
                        app.name = patch.name
                    if patch.description is not None:
                        app.description = patch.description
                    if patch.default_workflow_id is not None:
                        app.default_workflow_id = patch.default_workflow_id
                app.modified_at = now
                conn.execute(
                    "UPDATE apps SET name = ?, description = ?, default_workflow_id = ?, "
                    "modified_at = ? WHERE pk = ?",
                    (app.name, app.description, app.default_workflow_id, now, app.pk),
                )
                out.append(app)
        return out

    # -- concepts ------------------------------------------------------------------------------

    @staticmethod
    def _ensure_concepts(
        conn: sqlite3.Connection, app_pk: int, concepts: Iterable[ConceptValue], now: float
    ) -> None:
        conn.executemany(
            "INSERT OR IGNORE INTO concepts (app_pk, id, name, created_at, modified_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(app_pk, c.id, c.name or c.id, now, now) for c in concepts],
        )

    def add_concepts(self, app_pk: int, concepts: Sequence[ConceptValue]) -> list[ConceptRow]:
        now = time.time()
        ids = [c.id for c in concepts]
        with self.write() as conn:
            taken = [
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM concepts WHERE app_pk = ? AND id IN ({_marks(len(ids))})",
                    (app_pk, *ids),
                )
            ]
            if taken:
                raise ApiFailure(
                    CONCEPTS_INVALID_REQUEST,
                    f"concept ids already exist: {', '.join(sorted(taken))}; "
                    "use PatchConcepts to rename them",
                )
            conn.executemany(
                "INSERT INTO concepts (app_pk, id, name, created_at, modified_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(app_pk, c.id, c.name or c.id, now, now) for c in concepts],
            )
        return self.get_concepts(app_pk, ids)

    def get_concepts(self, app_pk: int, ids: Sequence[str]) -> list[ConceptRow]:
        conn = self._conn()
        by_id: dict[str, ConceptRow] = {}
        for chunk in _chunks(list(ids)):
            for row in conn.execute(
                "SELECT pk, id, name, created_at, modified_at FROM concepts "
                f"WHERE app_pk = ? AND id IN ({_marks(len(chunk))})",
                (app_pk, *chunk),
            ):
                by_id[row[1]] = ConceptRow(*row)
        return [by_id[i] for i in ids if i in by_id]

    def concept_ids_named(self, app_pk: int, names: Sequence[str]) -> dict[str, list[str]]:
        """The ids of the app's concepts with each of ``names`` (a search may name concepts)."""
        found: dict[str, list[str]] = {name: [] for name in names}
        conn = self._conn()
        for chunk in _chunks(list(found)):
            for ident, name in conn.execute(
                "SELECT id, name FROM concepts "
                f"WHERE app_pk = ? AND name IN ({_marks(len(chunk))})",
                (app_pk, *chunk),
            ):
                found[name].append(ident)
        return found

    def list_concepts(self, app_pk: int, limit: int, offset: int) -> list[ConceptRow]:
        rows = (
            self._conn()
            .execute(
                "SELECT pk, id, name, created_at, modified_at FROM concepts WHERE app_pk = ? "
                "ORDER BY pk DESC LIMIT ? OFFSET ?",
                (app_pk, limit, offset),
            )
            .fetchall()
        )
        return [ConceptRow(*r) for r in rows]

    def patch_concepts(
        self, app_pk: int, concepts: Sequence[ConceptValue], action: str
    ) -> list[ConceptRow]:
        now = time.time()
        ids = [c.id for c in concepts]
        with self.write() as conn:
            existing = {
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM concepts WHERE app_pk = ? AND id IN ({_marks(len(ids))})",
                    (app_pk, *ids),
                )
            }
            missing = [i for i in ids if i not in existing]
            if missing and action != "overwrite":
                raise not_found("concept", ", ".join(missing), "Create it with PostConcepts first.")
            self._ensure_concepts(conn, app_pk, concepts, now)
            conn.executemany(
                "UPDATE concepts SET name = ?, modified_at = ? WHERE app_pk = ? AND id = ?",
                [(c.name or c.id, now, app_pk, c.id) for c in concepts],
            )
        return self.get_concepts(app_pk, ids)

    # -- inputs --------------------------------------------------------------------------------

    @staticmethod
    def _input(row: Sequence[Any]) -> InputRow:
        values = list(row)
        values[10] = json.loads(values[10]) if values[10] else {}
        return InputRow(*values)

    def _attach_input_concepts(self, conn: sqlite3.Connection, rows: list[InputRow]) -> None:
        if not rows:
            return
        by_pk = {r.pk: r for r in rows}
        for chunk in _chunks(list(by_pk)):
            for input_pk, concept_id, name, value in conn.execute(
                "SELECT a.input_pk, ac.concept_id, c.name, ac.value FROM annotations a "
                "JOIN annotation_concepts ac ON ac.annotation_pk = a.pk "
                "LEFT JOIN concepts c ON c.app_pk = a.app_pk AND c.id = ac.concept_id "
                f"WHERE a.input_pk IN ({_marks(len(chunk))}) AND a.input_level = 1 "
                "ORDER BY a.input_pk, ac.rowid",
                tuple(chunk),
            ):
                by_pk[input_pk].concepts.append(ConceptValue(concept_id, name or concept_id, value))

    def _write_input_level(
        self,
        conn: sqlite3.Connection,
        app_pk: int,
        input_pk: int,
        user_id: str,
        concepts: list[ConceptValue],
        now: float,
    ) -> None:
        """Set the input-level annotation (the input's own labels) to exactly ``concepts``."""
        row = conn.execute(
            "SELECT pk FROM annotations WHERE input_pk = ? AND input_level = 1", (input_pk,)
        ).fetchone()
        if row is None:
            if not concepts:
                return
            cur = conn.execute(
                "INSERT INTO annotations (app_pk, input_pk, id, user_id, status_code, input_level, "
                "created_at, modified_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                (app_pk, input_pk, new_id(), user_id, ANNOTATION_SUCCESS, now, now),
            )
            annotation_pk = int(cur.lastrowid or 0)
        else:
            annotation_pk = int(row[0])
            conn.execute(
                "DELETE FROM annotation_concepts WHERE annotation_pk = ?", (annotation_pk,)
            )
            conn.execute(
                "UPDATE annotations SET modified_at = ? WHERE pk = ?", (now, annotation_pk)
            )
        self._ensure_concepts(conn, app_pk, concepts, now)
        conn.executemany(
            "INSERT OR REPLACE INTO annotation_concepts (annotation_pk, concept_id, value) "
            "VALUES (?, ?, ?)",
            [(annotation_pk, c.id, c.value) for c in concepts],
        )

    def add_inputs(self, app_pk: int, user_id: str, items: Sequence[NewInput]) -> list[AddedInput]:
        """Insert a batch; ids already in the app (or repeated in the batch) answer 30100.

        Items with status 30001 are queued for ingest in the same transaction. Items that carry
        ``blob`` bytes get ``blob_sha`` set; their bytes are stored durably before or with the
        rows (see stage_blobs).
        """
        with_bytes = [i for i in items if i.blob is not None]
        if with_bytes:
            shas = self.stage_blobs([i.blob for i in with_bytes if i.blob is not None])
            for item, sha in zip(with_bytes, shas, strict=True):
                item.blob_sha = sha
        now = time.time()
        out: list[AddedInput] = []
        accepted: list[NewInput] = []
        with self.write() as conn:
            seen: set[str] = set()
            ids = [i.id for i in items]
            taken = (
                {
                    r[0]
                    for r in conn.execute(
                        f"SELECT id FROM inputs WHERE app_pk = ? AND id IN ({_marks(len(ids))})",
                        (app_pk, *ids),
                    )
                }
                if ids
                else set()
            )
            for item in items:
                if item.id in taken or item.id in seen:
                    out.append(
                        AddedInput(
                            item.id,
                            None,
                            INPUT_DUPLICATE,
                            f"input id '{item.id}' already exists in this app",
                        )
                    )
                    continue
                seen.add(item.id)
                accepted.append(item)
                out.append(AddedInput(item.id, None))
            # Row ids are given here (the write lock and BEGIN IMMEDIATE make this the only
            # writer), so the batch goes in with one executemany instead of a statement each.
            last = conn.execute("SELECT COALESCE(MAX(pk), 0) FROM inputs").fetchone()[0]
            rows = [
                InputRow(
                    pk=int(last) + n,
                    app_pk=app_pk,
                    id=item.id,
                    source_url=item.source_url,
                    blob_sha=item.blob_sha,
                    thumb_sha=None,
                    width=0,
                    height=0,
                    format="",
                    color_mode="",
                    metadata=item.metadata,
                    status_code=item.status_code,
                    status_description=item.status_description,
                    workflow_status_code=None,
                    workflow_status_description="",
                    created_at=now,
                    modified_at=now,
                )
                for n, item in enumerate(accepted, start=1)
            ]
            conn.executemany(
                "INSERT INTO inputs (pk, app_pk, id, source_url, blob_sha, metadata, status_code, "
                "status_description, created_at, modified_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.pk,
                        app_pk,
                        r.id,
                        r.source_url,
                        r.blob_sha,
                        _dump(r.metadata),
                        r.status_code,
                        r.status_description,
                        now,
                        now,
                    )
                    for r in rows
                ],
            )
            conn.executemany(
                "INSERT INTO ingest_jobs (input_pk, enqueued_at) VALUES (?, ?)",
                [(r.pk, now) for r in rows if r.status_code == INPUT_PENDING],
            )
            labelled = []
            for item, row in zip(accepted, rows, strict=True):
                if item.concepts:
                    self._write_input_level(conn, app_pk, row.pk, user_id, item.concepts, now)
                    labelled.append(row)
            # Concept names as stored (an existing concept keeps its name).
            self._attach_input_concepts(conn, labelled)
            self._keep_blobs(conn, [(i.blob_sha, i.blob) for i in accepted])
        by_id = {r.id: r for r in rows}
        for result in out:
            if not result.error_code:
                result.row = by_id[result.id]
        return out

    def _inputs_by_pk(self, conn: sqlite3.Connection, pks: Sequence[int]) -> list[InputRow]:
        rows: list[InputRow] = []
        for chunk in _chunks(list(pks)):
            rows.extend(
                self._input(r)
                for r in conn.execute(
                    f"SELECT {_INPUT_COLUMNS} FROM inputs WHERE pk IN ({_marks(len(chunk))})",
                    tuple(chunk),
                )
            )
        self._attach_input_concepts(conn, rows)
        order = {pk: n for n, pk in enumerate(pks)}
        rows.sort(key=lambda r: order[r.pk])
        return rows

    def get_input(self, app_pk: int, input_id: str) -> InputRow | None:
        with self.read() as conn:
            row = conn.execute(
                f"SELECT {_INPUT_COLUMNS} FROM inputs WHERE app_pk = ? AND id = ?",
                (app_pk, input_id),
            ).fetchone()
            if row is None:
                return None
            result = self._input(row)
            self._attach_input_concepts(conn, [result])
        return result

    def list_inputs(
        self,
        app_pk: int,
        limit: int,
        offset: int,
        *,
        status_codes: Sequence[int] = (),
        ids: Sequence[str] = (),
    ) -> list[InputRow]:
        """Newest first (``pk`` descending): stable, and paged on an index."""
        where = "app_pk = ?"
        params: list[Any] = [app_pk]
        if status_codes:
            where += f" AND status_code IN ({_marks(len(status_codes))})"
            params.extend(status_codes)
        if ids:
            where += f" AND id IN ({_marks(len(ids))})"
            params.extend(ids)
        with self.read() as conn:
            pks = [
                r[0]
                for r in conn.execute(
                    f"SELECT pk FROM inputs WHERE {where} ORDER BY pk DESC LIMIT ? OFFSET ?",
                    (*params, limit, offset),
                )
            ]
            return self._inputs_by_pk(conn, pks)

    def count_inputs(self, app_pk: int) -> InputCounts:
        counts = InputCounts()
        for code, count in self._conn().execute(
            "SELECT status_code, COUNT(*) FROM inputs WHERE app_pk = ? GROUP BY status_code",
            (app_pk,),
        ):
            if code == INPUT_SUCCESS:
                counts.processed += count
            elif code == INPUT_PENDING:
                counts.to_process += count
            elif code == INPUT_IN_PROGRESS:
                counts.processing += count
            elif code == INPUT_FAILED:
                counts.errors += count
        return counts

    def patch_inputs(
        self, app_pk: int, user_id: str, patches: Sequence[InputPatch], action: str
    ) -> list[InputRow]:
        now = time.time()
        with self.write() as conn:
            pks: list[int] = []
            for patch in patches:
                row = conn.execute(
                    f"SELECT {_INPUT_COLUMNS} FROM inputs WHERE app_pk = ? AND id = ?",
                    (app_pk, patch.id),
                ).fetchone()
                if row is None:
                    raise not_found("input", patch.id)
                current = self._input(row)
                self._attach_input_concepts(conn, [current])
                if patch.metadata is not None:
                    if action == "overwrite":
                        metadata = patch.metadata
                    elif action == "remove":
                        metadata = remove_struct(current.metadata, patch.metadata)
                    else:
                        metadata = merge_struct(current.metadata, patch.metadata)
                    conn.execute(
                        "UPDATE inputs SET metadata = ?, modified_at = ? WHERE pk = ?",
                        (_dump(metadata), now, current.pk),
                    )
                if patch.concepts is not None:
                    concepts = merge_concepts(current.concepts, patch.concepts, action)
                    self._write_input_level(conn, app_pk, current.pk, user_id, concepts, now)
                    conn.execute(
                        "UPDATE inputs SET modified_at = ? WHERE pk = ?", (now, current.pk)
                    )
                pks.append(current.pk)
            return self._inputs_by_pk(conn, pks)

    def delete_inputs(self, app_pk: int, ids: Sequence[str]) -> None:
        """Delete inputs (with their annotations and queued work); all or nothing."""
        with self.write() as conn:
            found: dict[str, tuple[int, str | None, str | None]] = {}
            for chunk in _chunks(list(ids)):
                for pk, input_id, blob, thumb in conn.execute(
                    "SELECT pk, id, blob_sha, thumb_sha FROM inputs "
                    f"WHERE app_pk = ? AND id IN ({_marks(len(chunk))})",
                    (app_pk, *chunk),
                ):
                    found[input_id] = (pk, blob, thumb)
            missing = [i for i in ids if i not in found]
            if missing:
                raise not_found("input", ", ".join(missing), "Nothing was deleted.")
            conn.executemany("DELETE FROM inputs WHERE pk = ?", [(v[0],) for v in found.values()])
            shas = {s for v in found.values() for s in v[1:] if s}
            self._collect_blobs(conn, shas)

    # -- ingest queue --------------------------------------------------------------------------

    def pending_jobs(self, after_job_id: int, limit: int) -> list[Job]:
        rows = (
            self._conn()
            .execute(
                "SELECT j.id, j.input_pk, i.app_pk, a.id, i.id, i.blob_sha, i.source_url "
                "FROM ingest_jobs j JOIN inputs i ON i.pk = j.input_pk "
                "JOIN apps a ON a.pk = i.app_pk "
                "WHERE j.id > ? ORDER BY j.id LIMIT ?",
                (after_job_id, limit),
            )
            .fetchall()
        )
        return [Job(*r) for r in rows]

    def app_job_count(self, app_pk: int) -> int:
        """Inputs of one app still queued for ingest."""
        row = (
            self._conn()
            .execute(
                "SELECT COUNT(*) FROM ingest_jobs j JOIN inputs i ON i.pk = j.input_pk "
                "WHERE i.app_pk = ?",
                (app_pk,),
            )
            .fetchone()
        )
        return int(row[0])

    def job_count(self) -> int:
        row = self._conn().execute("SELECT COUNT(*) FROM ingest_jobs").fetchone()
        return int(row[0])

    def finish_jobs(self, results: Sequence[JobResult]) -> None:
        """Record outcomes and drop the jobs, in one transaction."""
        now = time.time()
        with self.write() as conn:
            #: Rows to update, grouped by the optional columns they set (see below).
            done: dict[tuple[bool, bool], list[tuple[Any, ...]]] = {}
            failed: list[tuple[Any, ...]] = []
            self._keep_blobs(
                conn,
                [(r.blob_sha, r.blob) for r in results if r.ok]
                + [(r.thumb_sha, r.thumb) for r in results if r.ok],
            )
            for r in results:
                if r.ok:
                    workflow_code, workflow_description = r.workflow_status or (None, None)
                    shas = tuple(sha for sha in (r.blob_sha, r.thumb_sha) if sha is not None)
                    done.setdefault((r.blob_sha is not None, r.thumb_sha is not None), []).append(
                        (
                            r.description,
                            *shas,
                            r.width,
                            r.height,
                            r.format,
                            r.color_mode,
                            workflow_code,
                            workflow_description,
                            now,
                            r.input_pk,
                        )
                    )
                else:
                    failed.append((r.description, now, r.input_pk))
            # blob_sha and thumb_sha are named only where they get a value (a URL input's bytes,
            # a thumbnail file): SQLite rewrites the index entries of every column an UPDATE
            # sets, changed or not, and these indexes' keys are random, so each input would
            # dirty a page of each (~10 KB more WAL an input, copied again at checkpoint).
            for (sets_blob, sets_thumb), rows in done.items():
                optional = ("blob_sha = ?, " if sets_blob else "") + (
                    "thumb_sha = ?, " if sets_thumb else ""
                )
                conn.executemany(
                    f"UPDATE inputs SET status_code = {INPUT_SUCCESS}, status_description = ?, "
                    f"{optional}width = ?, height = ?, format = ?, color_mode = ?, "
                    "workflow_status_code = COALESCE(?, workflow_status_code), "
                    "workflow_status_description = COALESCE(?, workflow_status_description), "
                    "modified_at = ? WHERE pk = ?",
                    rows,
                )
            conn.executemany(
                f"UPDATE inputs SET status_code = {INPUT_FAILED}, status_description = ?, "
                "modified_at = ? WHERE pk = ?",
                failed,
            )
            conn.executemany("DELETE FROM ingest_jobs WHERE id = ?", [(r.job_id,) for r in results])
            self._write_workflow_results(conn, [r for r in results if r.ok], now)

    def _write_workflow_results(
        self, conn: sqlite3.Connection, results: Sequence[JobResult], now: float
    ) -> None:
        """Embeddings and default-workflow annotations of ingested inputs (their workflow
        statuses are set with their input status, in finish_jobs)."""
        conn.executemany(
            "INSERT OR REPLACE INTO embeddings (input_pk, embedder_id, dim, vector) "
            "VALUES (?, ?, ?, ?)",
            [(r.input_pk, e.embedder_id, e.dim, e.vector) for r in results for e in r.embeddings],
        )
        annotated = [r for r in results if r.annotations]
        if not annotated:
            return
        app_of: dict[int, int] = {}
        pks = [r.input_pk for r in annotated]
        for start in range(0, len(pks), 500):
            chunk = pks[start : start + 500]
            app_of.update(
                conn.execute(
                    f"SELECT pk, app_pk FROM inputs WHERE pk IN ({_marks(len(chunk))})", chunk
                ).fetchall()
            )
        concepts: dict[tuple[int, str], ConceptValue] = {}
        values: list[tuple[int, str, float]] = []
        for result in annotated:
            app_pk = app_of[result.input_pk]
            for write in result.annotations:
                cur = conn.execute(
                    "INSERT INTO annotations (app_pk, input_pk, id, user_id, model_version_id, "
                    "annotation_info, status_code, created_at, modified_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        app_pk,
                        result.input_pk,
                        new_id(),
                        write.user_id,
                        write.model_version_id,
                        _dump(write.annotation_info),
                        write.status_code,
                        now,
                        now,
                    ),
                )
                annotation_pk = int(cur.lastrowid or 0)
                for c in write.concepts:
                    concepts.setdefault((app_pk, c.id), c)
                    values.append((annotation_pk, c.id, c.value))
        for app_pk in {key[0] for key in concepts}:
            self._ensure_concepts(
                conn, app_pk, [c for (pk, _), c in concepts.items() if pk == app_pk], now
            )
        conn.executemany(
            "INSERT OR REPLACE INTO annotation_concepts (annotation_pk, concept_id, value) "
            "VALUES (?, ?, ?)",
            values,
        )

    def set_workflow_status(self, input_pk: int, code: int, description: str) -> None:
        """Record the default-workflow outcome of one input (separate from its input status)."""
        with self.write() as conn:
            conn.execute(
                "UPDATE inputs SET workflow_status_code = ?, workflow_status_description = ? "
                "WHERE pk = ?",
                (code, description, input_pk),
            )

    # -- annotations ---------------------------------------------------------------------------

    def _annotation(self, row: Sequence[Any]) -> AnnotationRow:
        values = list(row)
        values[8] = _json_or_none(values[8])
        values[9] = _json_or_none(values[9])
        (
            pk,
            app_pk,
            input_pk,
            input_id,
            ident,
            user_id,
            mv_id,
            wv_id,
            meta,
            info,
            code,
            desc,
            level,
            created,
            modified,
        ) = values
        return AnnotationRow(
            pk,
            app_pk,
            input_pk,
            input_id,
            ident,
            user_id,
            mv_id,
            wv_id,
            meta,
            info,
            [],
            code,
            desc,
            bool(level),
            created,
            modified,
        )

    def _attach_annotation_concepts(
        self, conn: sqlite3.Connection, rows: list[AnnotationRow]
    ) -> None:
        by_pk = {r.pk: r for r in rows}
        for chunk in _chunks(list(by_pk)):
            for annotation_pk, concept_id, name, value in conn.execute(
                "SELECT ac.annotation_pk, ac.concept_id, c.name, ac.value "
                "FROM annotation_concepts ac JOIN annotations a ON a.pk = ac.annotation_pk "
                "LEFT JOIN concepts c ON c.app_pk = a.app_pk AND c.id = ac.concept_id "
                f"WHERE ac.annotation_pk IN ({_marks(len(chunk))}) ORDER BY ac.rowid",
                tuple(chunk),
            ):
                by_pk[annotation_pk].concepts.append(
                    ConceptValue(concept_id, name or concept_id, value)
                )

    def _annotations_by_pk(
        self, conn: sqlite3.Connection, pks: Sequence[int]
    ) -> list[AnnotationRow]:
        rows: list[AnnotationRow] = []
        for chunk in _chunks(list(pks)):
            rows.extend(
                self._annotation(r)
                for r in conn.execute(
                    f"SELECT {_ANNOTATION_COLUMNS} FROM annotations a "
                    f"JOIN inputs i ON i.pk = a.input_pk WHERE a.pk IN ({_marks(len(chunk))})",
                    tuple(chunk),
                )
            )
        self._attach_annotation_concepts(conn, rows)
        order = {pk: n for n, pk in enumerate(pks)}
        rows.sort(key=lambda r: order[r.pk])
        return rows

    def add_annotations(self, app_pk: int, items: Sequence[NewAnnotation]) -> list[AnnotationRow]:
        """Insert annotations, all or nothing: their inputs must exist and their ids be new."""
        now = time.time()
        with self.write() as conn:
            input_ids = sorted({a.input_id for a in items})
            inputs = {
                r[1]: r[0]
                for r in conn.execute(
                    "SELECT pk, id FROM inputs "
                    f"WHERE app_pk = ? AND id IN ({_marks(len(input_ids))})",
                    (app_pk, *input_ids),
                )
            }
            missing = [i for i in input_ids if i not in inputs]
            if missing:
                raise not_found("input", ", ".join(missing), "Annotate existing inputs only.")
            ids = [a.id for a in items]
            taken = [
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM annotations WHERE app_pk = ? AND id IN ({_marks(len(ids))})",
                    (app_pk, *ids),
                )
            ]
            if taken or len(set(ids)) != len(ids):
                dupes = sorted(set(taken) | {i for i in ids if ids.count(i) > 1})
                raise ApiFailure(
                    CONN_INVALID_REQUEST, f"annotation ids already used: {', '.join(dupes)}"
                )
            pks: list[int] = []
            for item in items:
                cur = conn.execute(
                    "INSERT INTO annotations (app_pk, input_pk, id, user_id, model_version_id, "
                    "workflow_version_id, metadata, annotation_info, status_code, "
                    "status_description, created_at, modified_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        app_pk,
                        inputs[item.input_id],
                        item.id,
                        item.user_id,
                        item.model_version_id,
                        item.workflow_version_id,
                        _dump(item.metadata),
                        _dump(item.annotation_info),
                        item.status_code,
                        item.status_description,
                        now,
                        now,
                    ),
                )
                annotation_pk = int(cur.lastrowid or 0)
                pks.append(annotation_pk)
                self._ensure_concepts(conn, app_pk, item.concepts, now)
                conn.executemany(
                    "INSERT OR REPLACE INTO annotation_concepts (annotation_pk, concept_id, value) "
                    "VALUES (?, ?, ?)",
                    [(annotation_pk, c.id, c.value) for c in item.concepts],
                )
            return self._annotations_by_pk(conn, pks)

    def get_annotation(self, app_pk: int, annotation_id: str) -> AnnotationRow | None:
        with self.read() as conn:
            row = conn.execute(
                "SELECT pk FROM annotations WHERE app_pk = ? AND id = ?", (app_pk, annotation_id)
            ).fetchone()
            if row is None:
                return None
            found = self._annotations_by_pk(conn, [row[0]])
        return found[0] if found else None

    def list_annotations(
        self, app_pk: int, flt: AnnotationFilter, limit: int, offset: int
    ) -> list[AnnotationRow]:
        """Newest first. Worker filter, as the ListAnnotationsRequest proto describes it:

        - ``user_ids`` and ``model_version_ids`` are OR'd together and imply list_all;
        - otherwise ``list_all`` lists every annotation;
        - otherwise only the caller's own human annotations (no model version) are listed.
        """
        where = ["a.app_pk = ?"]
        params: list[Any] = [app_pk]
        if flt.ids:
            where.append(f"a.id IN ({_marks(len(flt.ids))})")
            params.extend(flt.ids)
        if flt.input_ids:
            where.append(f"i.id IN ({_marks(len(flt.input_ids))})")
            params.extend(flt.input_ids)
        if flt.status_codes:
            where.append(f"a.status_code IN ({_marks(len(flt.status_codes))})")
            params.extend(flt.status_codes)
        workers: list[str] = []
        if flt.user_ids:
            workers.append(f"a.user_id IN ({_marks(len(flt.user_ids))})")
            params.extend(flt.user_ids)
        if flt.model_version_ids:
            workers.append(f"a.model_version_id IN ({_marks(len(flt.model_version_ids))})")
            params.extend(flt.model_version_ids)
        if workers:
            where.append("(" + " OR ".join(workers) + ")")
        elif not flt.list_all:
            where.append("a.user_id = ? AND a.model_version_id = '' AND a.workflow_version_id = ''")
            params.append(flt.caller_user_id)
        with self.read() as conn:
            pks = [
                r[0]
                for r in conn.execute(
                    "SELECT a.pk FROM annotations a JOIN inputs i ON i.pk = a.input_pk "
                    f"WHERE {' AND '.join(where)} ORDER BY a.pk DESC LIMIT ? OFFSET ?",
                    (*params, limit, offset),
                )
            ]
            return self._annotations_by_pk(conn, pks)

    def search_inputs(
        self, app_pk: int, query: search.SearchQuery, limit: int, offset: int
    ) -> list[InputRow]:
        """One page of PostInputsSearches hits (see api/local/search.py), newest first."""
        sql, params = search.inputs_sql(app_pk, query, limit, offset)
        with self.read() as conn:
            return self._inputs_by_pk(conn, [r[0] for r in conn.execute(sql, params)])

    def search_annotations(
        self, app_pk: int, query: search.SearchQuery, limit: int, offset: int
    ) -> list[tuple[AnnotationRow, InputRow]]:
        """One page of PostAnnotationsSearches hits, each with its input, newest first."""
        sql, params = search.annotations_sql(app_pk, query, limit, offset)
        with self.read() as conn:
            pks = [r[0] for r in conn.execute(sql, params)]
            annotations = {row.pk: row for row in self._annotations_by_pk(conn, pks)}
            input_pks = sorted({row.input_pk for row in annotations.values()})
            inputs = {row.pk: row for row in self._inputs_by_pk(conn, input_pks)}
            return [(annotations[pk], inputs[annotations[pk].input_pk]) for pk in pks]

    def patch_annotations(
        self, app_pk: int, patches: Sequence[AnnotationPatch], action: str
    ) -> list[AnnotationRow]:
        now = time.time()
        with self.write() as conn:
            pks: list[int] = []
            for patch in patches:
                row = conn.execute(
                    "SELECT pk FROM annotations WHERE app_pk = ? AND id = ?", (app_pk, patch.id)
                ).fetchone()
                if row is None:
                    raise not_found("annotation", patch.id)
                current = self._annotations_by_pk(conn, [row[0]])[0]
                if patch.input_id and patch.input_id != current.input_id:
                    raise ApiFailure(
                        CONN_INVALID_REQUEST,
                        f"annotation '{patch.id}' belongs to input '{current.input_id}', "
                        f"not '{patch.input_id}'",
                    )
                metadata, info = current.metadata, current.annotation_info
                if patch.metadata is not None:
                    metadata = self._patch_struct(metadata, patch.metadata, action)
                if patch.annotation_info is not None:
                    info = self._patch_struct(info, patch.annotation_info, action)
                code = patch.status_code if patch.status_code is not None else current.status_code
                description = (
                    patch.status_description
                    if patch.status_code is not None
                    else current.status_description
                )
                conn.execute(
                    "UPDATE annotations SET metadata = ?, annotation_info = ?, status_code = ?, "
                    "status_description = ?, modified_at = ? WHERE pk = ?",
                    (_dump(metadata), _dump(info), code, description, now, current.pk),
                )
                if patch.concepts is not None:
                    concepts = merge_concepts(current.concepts, patch.concepts, action)
                    self._ensure_concepts(conn, app_pk, concepts, now)
                    conn.execute(
                        "DELETE FROM annotation_concepts WHERE annotation_pk = ?", (current.pk,)
                    )
                    conn.executemany(
                        "INSERT OR REPLACE INTO annotation_concepts "
                        "(annotation_pk, concept_id, value) VALUES (?, ?, ?)",
                        [(current.pk, c.id, c.value) for c in concepts],
                    )
                pks.append(current.pk)
            return self._annotations_by_pk(conn, pks)

    @staticmethod
    def _patch_struct(
        base: dict[str, Any] | None, patch: dict[str, Any], action: str
    ) -> dict[str, Any]:
        if action == "overwrite":
            return patch
        if action == "remove":
            return remove_struct(base or {}, patch)
        return merge_struct(base or {}, patch)

    def delete_annotation(self, app_pk: int, input_id: str, annotation_id: str) -> None:
        with self.write() as conn:
            row = conn.execute(
                "SELECT a.pk FROM annotations a JOIN inputs i ON i.pk = a.input_pk "
                "WHERE a.app_pk = ? AND a.id = ? AND i.id = ?",
                (app_pk, annotation_id, input_id),
            ).fetchone()
            if row is None:
                raise not_found("annotation", annotation_id, f"(looked on input '{input_id}')")
            conn.execute("DELETE FROM annotations WHERE pk = ?", (row[0],))
