"""Content-addressed blobs (image bytes, thumbnails): put, stage, read, sweep and sync.

Small blobs (up to ``INLINE_BLOB_MAX``) are rows of table ``blobs``, committed with the rows
that refer to them; larger ones are files ``blobs/ab/<sha256>``, made durable before those rows
commit (see :meth:`BlobStore._write_files`).
"""

from __future__ import annotations

import ctypes
import os
import sqlite3
import sys
import uuid
from collections.abc import Iterable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from api.local.sql import _sha
from api.local.store.core import StoreCore


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


#: One sync of the blob filesystem per batch instead of an fsync per file (see put_blobs).
_syncfs = _find_syncfs()
#: Blobs up to this size are kept in the database (table ``blobs``), committed in the same
#: transaction as the rows that refer to them: SQLite reads and writes small blobs faster than a
#: file each (https://www.sqlite.org/intern-v-extern-blob.html), and creating one file per
#: small image was most of the cost of PostInputs. Larger blobs are files under ``blobs/``.
INLINE_BLOB_MAX = 256 * 1024


def _inline(data: bytes) -> bool:
    return len(data) <= INLINE_BLOB_MAX


class BlobStore(StoreCore):
    """Blob methods of :class:`api.local.store.Store`."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        #: Blob bucket dirs (``blobs/ab``) known to exist: a mkdir of an existing dir is a
        #: costly syscall on some filesystems, and put_blobs would make one per blob.
        self._buckets: set[str] = set()

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

    def blob_source(self, sha: str) -> str | bytes:
        """A blob for a reader that can stream a file: its file's path when it is a file (a
        large one), else its bytes (FileNotFoundError if neither)."""
        path = self.blob_path(sha)
        if path.exists():
            return str(path)
        return self.read_blob(sha)

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
