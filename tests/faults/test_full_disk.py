"""A full disk, simulated in-process without privileges: blob writes fail with ENOSPC, and the
database is capped (``PRAGMA max_page_count``) so SQLite answers SQLITE_FULL. The client must get
a clear error, the database must stay sound with earlier data intact, and once space returns
uploads and pending work must go through again (without a restart)."""

from __future__ import annotations

import asyncio
import errno
import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.client import ClarifaiClient
from api.errors import ApiError
from api.local.backend import LocalBackend
from api.local.store import INLINE_BLOB_MAX, Store
from api.models import NewInput
from api.retry import RetryPolicy
from tests.faults.support import DB_NAME, image_item, integrity, noisy_png, tiny_png

KEY = "disk-key"
APP = "/v2/users/me/apps/disk"


class Disk:
    """Switches the simulated full disk on and off."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = str(data_dir.resolve())
        self.blobs_full = False
        self.db_full = False


@pytest.fixture
async def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Disk:
    state = Disk(tmp_path / "data")
    real_write = os.write
    real_conn = Store._conn

    def write(fd: int, data: Any) -> int:
        if state.blobs_full:
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                target = ""
            if target.startswith(state.data_dir):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    def conn(self: Store) -> sqlite3.Connection:
        c = real_conn(self)
        if state.db_full:
            pages = c.execute("PRAGMA page_count").fetchone()[0]
            c.execute(f"PRAGMA max_page_count = {pages}")
        else:
            c.execute("PRAGMA max_page_count = 1073741823")
        return c

    real_finish = Store.finish_jobs

    def finish_jobs(self: Store, results: Any) -> None:
        # Updates in place may fit in the capped file; a full disk fails the WAL append too.
        if state.db_full:
            raise sqlite3.OperationalError("database or disk is full")
        real_finish(self, results)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(Store, "_conn", conn)
    monkeypatch.setattr(Store, "finish_jobs", finish_jobs)
    return state


@pytest.fixture
async def backend(tmp_path: Path, disk: Disk) -> AsyncIterator[LocalBackend]:
    b = LocalBackend(tmp_path / "data", api_key=KEY)
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


@pytest.fixture
async def http(backend: LocalBackend) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=backend.app, raise_app_exceptions=False),
        base_url="http://local",
        headers={"Authorization": f"Key {KEY}"},
    ) as c:
        r = await c.post("/v2/users/me/apps", json={"apps": [{"id": "disk"}]})
        assert r.status_code == 200, r.text
        yield c


async def _post(
    http: httpx.AsyncClient, start: int, count: int, meta: int = 0, *, large: bool = False
) -> httpx.Response:
    items = []
    for i in range(start, start + count):
        item = image_item(f"in-{i:04d}", noisy_png(i) if large else tiny_png(i))
        if meta:
            item["data"]["metadata"] = {"pad": "x" * meta}  # type: ignore[index]
        items.append(item)
    return await http.post(f"{APP}/inputs", json={"inputs": items})


async def _listed(http: httpx.AsyncClient) -> dict[str, int]:
    r = await http.get(f"{APP}/inputs", params={"per_page": 1000})
    assert r.status_code == 200, r.text
    return {i["id"]: i["status"]["code"] for i in r.json()["inputs"]}


def _says_disk_full(text: str) -> bool:
    low = text.lower()
    return any(s in low for s in ("no space left", "disk is full", "disk full", "cannot store"))


async def _earlier_intact(http: httpx.AsyncClient, backend: LocalBackend) -> None:
    listed = await _listed(http)
    assert {k: v for k, v in listed.items() if k < "in-0005"} == {
        f"in-{i:04d}": 30000 for i in range(5)
    }
    assert integrity(backend.data_dir / DB_NAME) == "ok"


async def test_blob_writes_fail_with_enospc(
    http: httpx.AsyncClient, backend: LocalBackend, disk: Disk
) -> None:
    assert (await _post(http, 0, 5)).status_code == 200
    await backend.wait_idle(30)
    assert len(noisy_png(100)) > INLINE_BLOB_MAX  # stored as files, not in the database

    disk.blobs_full = True
    r = await _post(http, 100, 3, large=True)
    body = r.json()
    assert r.status_code != 200 and body["status"]["code"] not in (10000, 10010), body
    status = body["status"]
    assert _says_disk_full(f"{status.get('description')} {status.get('details', '')}"), status
    # The adapter turns it into one clear line for the user.
    client = ClarifaiClient(
        base_url="http://embedded",
        api_key=KEY,
        user_id="me",
        app_id="disk",
        transport=httpx.ASGITransport(app=backend.app, raise_app_exceptions=False),
        retry=RetryPolicy(max_attempts=2, sleep=lambda _: asyncio.sleep(0)),
    )
    async with client:
        with pytest.raises(ApiError) as info:
            await client.post_inputs([NewInput(data=noisy_png(200))])
    assert _says_disk_full(str(info.value)), str(info.value)
    disk.blobs_full = False

    await _earlier_intact(http, backend)
    listed = await _listed(http)
    assert not any(k >= "in-0100" for k in listed), "a refused batch left inputs behind"
    leftovers = [p.name for p in backend.store.blob_dir.rglob(".tmp-*")]
    assert not leftovers, f"temp files left on the full disk: {leftovers}"

    # Space is back: uploads work again.
    r = await _post(http, 100, 3, large=True)
    assert r.status_code == 200 and r.json()["status"]["code"] == 10000, r.text
    await backend.wait_idle(30)
    assert all(v == 30000 for v in (await _listed(http)).values())


async def test_database_full(http: httpx.AsyncClient, backend: LocalBackend, disk: Disk) -> None:
    assert (await _post(http, 0, 5)).status_code == 200
    await backend.wait_idle(30)

    disk.db_full = True
    r = await _post(http, 300, 60, meta=2000)
    body = r.json()
    assert r.status_code != 200 and body["status"]["code"] not in (10000, 10010), body
    status = body["status"]
    text = f"{status.get('description')} {status.get('details', '')}"
    assert _says_disk_full(text) or "database or disk is full" in text.lower(), status
    disk.db_full = False

    await _earlier_intact(http, backend)
    assert not any(k >= "in-0300" for k in await _listed(http)), "half a batch was stored"

    r = await _post(http, 300, 60, meta=2000)
    assert r.status_code == 200 and r.json()["status"]["code"] == 10000, r.text
    await backend.wait_idle(30)
    listed = await _listed(http)
    assert len(listed) == 65 and set(listed.values()) == {30000}
    assert integrity(backend.data_dir / DB_NAME) == "ok"


async def test_pending_work_finishes_once_space_returns(
    http: httpx.AsyncClient, backend: LocalBackend, disk: Disk
) -> None:
    """Inputs acknowledged before the disk filled: the ingest cannot record their outcome while
    the disk is full; once space returns they must still end processed, without a restart."""
    assert (await _post(http, 0, 5)).status_code == 200
    await backend.wait_idle(30)
    gate = threading.Event()
    backend.ingest.processors.append(lambda ref, image: gate.wait(30) and None)
    try:
        r = await _post(http, 500, 4)
        assert r.status_code == 200, r.text
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while backend.ingest.active < 4 and loop.time() < deadline:
            await asyncio.sleep(0.01)  # claimed, and held at the gate
        assert backend.ingest.active == 4
        disk.db_full = True
        gate.set()
        deadline = loop.time() + 30
        while backend.ingest.active and loop.time() < deadline:
            await asyncio.sleep(0.01)
        assert backend.ingest.active == 0
    finally:
        gate.set()
        disk.db_full = False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    listed = await _listed(http)
    while any(v != 30000 for v in listed.values()) and loop.time() < deadline:
        await asyncio.sleep(0.05)
        listed = await _listed(http)
    stuck = sorted(k for k, v in listed.items() if v != 30000)
    assert not stuck, f"still pending after space returned (until a restart): {stuck}"
    assert integrity(backend.data_dir / DB_NAME) == "ok"
