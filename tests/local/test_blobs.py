"""Blobs. Small ones live in the database and commit with the rows that use them; large ones are
files: a batch is written whole (one filesystem sync per step, or an fsync per file where
syncfs is missing), duplicates inside a batch are written once, nothing half-written is ever
under a final name, and a failed sync leaves no temp files behind."""

from __future__ import annotations

import ctypes
import errno
import hashlib
from pathlib import Path
from typing import Any

import pytest

import api.local.store.blobs as blobs_module
import api.local.store.core as core_module
from api.local.rows import AppPatch, NewInput
from api.local.store import INLINE_BLOB_MAX, Store


def blobs(n: int) -> list[bytes]:
    """Blobs too large for the database: they become files."""
    big = [f"blob {i} ".encode() * (INLINE_BLOB_MAX // 6) for i in range(n)]
    assert all(len(b) > INLINE_BLOB_MAX for b in big)
    return big


def small_blobs(n: int) -> list[bytes]:
    return [f"small blob {i} ".encode() * 200 for i in range(n)]


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "data")
    s.open()
    return s


@pytest.mark.parametrize("syncfs", ["linux syncfs", "fsync each"])
def test_batch_written_whole_and_deduplicated(
    store: Store, syncfs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = blobs_module._syncfs
    if syncfs == "fsync each":
        monkeypatch.setattr(blobs_module, "_syncfs", None)
    elif real is not None:

        def counting(fd: int) -> int:
            calls.append(fd)
            return int(real(fd))

        monkeypatch.setattr(blobs_module, "_syncfs", counting)
    data = blobs(5)
    shas = store.put_blobs([*data, data[0], data[3]])
    assert shas == [hashlib.sha256(d).hexdigest() for d in [*data, data[0], data[3]]]
    stored = files_under(store.blob_dir)
    assert len(stored) == 5 and not [p for p in stored if p.name.startswith(".tmp-")]
    assert all(store.read_blob(sha) == d for sha, d in zip(shas, data, strict=False))
    if syncfs == "linux syncfs" and real is not None:
        assert len(calls) == 2  # temp files, then the renames
    # Writing them again touches nothing and syncs nothing.
    calls.clear()
    assert store.put_blobs(data) == shas[:5] and calls == []


def test_failed_sync_leaves_nothing_behind(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(blobs_module, "_syncfs", failing)
    with pytest.raises(OSError, match="syncfs failed"):
        store.put_blobs(blobs(3))
    assert files_under(store.blob_dir) == []
    # Once the cause is gone the same blobs go through.
    monkeypatch.setattr(blobs_module, "_syncfs", None)
    store.put_blobs(blobs(3))
    assert len(files_under(store.blob_dir)) == 3


def test_a_failing_write_mid_batch_keeps_earlier_blobs_out_of_final_names(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    real_write = os.write
    seen = 0

    def write(fd: int, data: Any) -> int:
        nonlocal seen
        seen += 1
        if seen == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(OSError):
        store.put_blobs(blobs(4))
    # Neither the two written before the failure nor the failed one is under a final name.
    assert files_under(store.blob_dir) == []


def blob_rows(store: Store) -> int:
    return int(store._conn().execute("SELECT COUNT(*) FROM blobs").fetchone()[0])


def test_small_blobs_live_in_the_database_and_survive_a_reopen(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    store.open()
    data = small_blobs(3)
    shas = store.put_blobs([*data, data[1]])
    assert shas[3] == shas[1] and blob_rows(store) == 3
    assert files_under(store.blob_dir) == []
    store.close()
    again = Store(tmp_path / "data")
    again.open()
    assert [again.read_blob(sha) for sha in shas[:3]] == data
    with pytest.raises(FileNotFoundError):
        again.read_blob(hashlib.sha256(b"never stored").hexdigest())
    again.close()


def test_small_blobs_commit_with_their_inputs_or_not_at_all(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    app = store.create_apps("local", [AppPatch(id="app")])[0]

    def full(*args: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    with monkeypatch.context() as m:
        m.setattr(store, "_keep_inline", full)
        with pytest.raises(sqlite3.OperationalError):
            store.add_inputs(app.pk, "local", [NewInput(id="a", blob=small_blobs(1)[0])])
    assert store.get_input(app.pk, "a") is None and blob_rows(store) == 0
    added = store.add_inputs(
        app.pk, "local", [NewInput(id="a", blob=small_blobs(1)[0]), NewInput(id="b", blob=b"x")]
    )
    row = added[0].row
    assert row is not None and row.blob_sha == hashlib.sha256(small_blobs(1)[0]).hexdigest()
    assert store.read_blob(row.blob_sha) == small_blobs(1)[0] and blob_rows(store) == 2
    store.delete_inputs(app.pk, ["a"])
    assert blob_rows(store) == 1  # b's bytes stay
    with pytest.raises(FileNotFoundError):
        store.read_blob(row.blob_sha)


def test_the_wal_starts_over_once_it_is_large(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the limit a RESTART checkpoint lets the WAL start over (PASSIVE ones alone may
    never, under steady load), and reads still find everything."""
    import os

    monkeypatch.setattr(core_module, "WAL_RESTART_BYTES", 256 * 1024)
    monkeypatch.setattr(core_module, "_CHECKPOINT_EVERY", 10**9)  # no background rounds
    wal = store.db_path.with_name(store.db_path.name + "-wal")
    data = [os.urandom(4000) for _ in range(400)]
    for start in range(0, 400, 100):
        store.put_blobs(data[start : start + 100])
    assert wal.stat().st_size > 1024 * 1024
    assert store.checkpoint() == "RESTART"
    store.put_blobs([b"one more write after the restart"])
    _, frames, _ = store._conn().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames < 10  # written from the start of the WAL again, not appended
    assert all(store.read_blob(hashlib.sha256(d).hexdigest()) == d for d in data[::37])
