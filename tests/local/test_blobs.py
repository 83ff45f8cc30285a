"""Blob files: a batch is written whole (one filesystem sync per step, or an fsync per file where
syncfs is missing), duplicates inside a batch are written once, nothing half-written is ever
under a final name, and a failed sync leaves no temp files behind."""

from __future__ import annotations

import ctypes
import errno
import hashlib
from pathlib import Path
from typing import Any

import pytest

import api.local.store as store_module
from api.local.store import Store


def blobs(n: int) -> list[bytes]:
    return [f"blob {i} ".encode() * 200 for i in range(n)]


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
    real = store_module._syncfs
    if syncfs == "fsync each":
        monkeypatch.setattr(store_module, "_syncfs", None)
    elif real is not None:

        def counting(fd: int) -> int:
            calls.append(fd)
            return int(real(fd))

        monkeypatch.setattr(store_module, "_syncfs", counting)
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

    monkeypatch.setattr(store_module, "_syncfs", failing)
    with pytest.raises(OSError, match="syncfs failed"):
        store.put_blobs(blobs(3))
    assert files_under(store.blob_dir) == []
    # Once the cause is gone the same blobs go through.
    monkeypatch.setattr(store_module, "_syncfs", None)
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
