"""LocalBackend: the embedded Clarifai-compatible server, ready to mount in-process or serve.

In-process (the TUI)::

    backend = LocalBackend(data_dir)
    await backend.start()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=backend.app),
                               base_url="http://local",
                               headers={"Authorization": f"Key {backend.api_key}"})
    ...
    await backend.stop()

``httpx.ASGITransport`` does not run the ASGI lifespan, hence the explicit start/stop; under
uvicorn (``api.local.serve``) the app's lifespan calls the same methods.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import secrets
import stat
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from api.local.app import build_app
from api.local.automation import Automation
from api.local.budget import PixelBudget
from api.local.fetch import Resolver, resolve
from api.local.imaging import IngestLimits
from api.local.ingest import IngestWorker
from api.local.services import DefaultWorkflowCheck
from api.local.store import Store
from api.local.throttle import AuthThrottle

log = logging.getLogger(__name__)


class KeyFileError(Exception):
    """The data dir's ``api_key`` file cannot be used (empty, or readable by others)."""


class DataDirLocked(RuntimeError):
    """Another process owns the data dir."""

    def __init__(self, data_dir: Path, holder: dict[str, Any]) -> None:
        self.data_dir = data_dir
        self.holder = holder
        owner = str(holder.get("owner", "")) or "another process"
        pid = holder.get("pid")
        url = str(holder.get("url", ""))
        who = {
            "tui": "the clarifai-tui app",
            "serve": "clarifai-tui serve",
            "upload": "clarifai-tui upload",
        }.get(owner, owner)
        where = f" (pid {pid})" if pid else ""
        message = f"the data dir {data_dir} is in use by {who}{where}"
        if url:
            message += (
                f", serving {url}. Point a profile at it instead of opening the dir again: "
                f'[profiles.shared] backend = "clarifai", base_url = "{url}", and the key from '
                f"{data_dir / 'api_key'} in CLARIFAI_PAT"
            )
        else:
            message += (
                ". One process owns a data dir at a time. To share it between terminals and "
                f"scripts, run `clarifai-tui serve --data-dir {data_dir}` and add a profile with "
                'backend = "clarifai" and base_url = "http://127.0.0.1:8585"'
            )
        super().__init__(message)


class LocalBackend:
    """The embedded backend: store, ingest worker and ASGI app for one data dir."""

    user_id = "local"

    def __init__(
        self,
        data_dir: Path,
        *,
        api_key: str | None = None,
        allow_private_urls: bool = False,
        owner: str = "tui",
        limits: IngestLimits | None = None,
        url_transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = resolve,
        ingest_concurrency: int | None = None,
        ingest_processes: int | None = None,
        warm_ingest: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser()
        self.owner = owner
        self.allow_private_urls = allow_private_urls
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.key_generated = False
        self.api_key = api_key or os.environ.get("CLARIFAI_PAT") or self._file_key()
        self.store = Store(self.data_dir)
        self.ingest = IngestWorker(
            self.store,
            limits=limits,
            allow_private_urls=allow_private_urls,
            transport=url_transport,
            resolver=resolver,
            concurrency=ingest_concurrency,
            processes=ingest_processes,
            warm_up=warm_ingest,
        )
        #: Training, prediction, workflow runs; also the ingest pipeline (embed + default
        #: workflow).
        self.automation = Automation(self.store, self.ingest, self.user_id)
        #: Decoded pixels that PostModelOutputs and PostWorkflowResults may hold at once, all
        #: requests together: one image of the largest size accepted (api.local.budget).
        self.decode_budget = PixelBudget(self.ingest.limits.max_pixels)
        #: Wrong keys per client address (api.local.throttle).
        self.auth_throttle = AuthThrottle()
        #: Refuses a default_workflow_id that names no workflow of the app (None: accept any).
        self.default_workflow_check: DefaultWorkflowCheck | None = (
            self.automation.check_default_workflow
        )
        self.url = ""
        self.app = build_app(self)
        self._lock_fd: int | None = None
        self._started = False
        self._start_lock = asyncio.Lock()

    # -- key and lock --------------------------------------------------------------------------

    def _file_key(self) -> str:
        path = self.data_dir / "api_key"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                raise KeyFileError(
                    f"{path} can be read by other users (mode {mode:04o}): run chmod 600 {path}"
                ) from None
            key = path.read_text(encoding="utf-8").strip()
            if not key:
                raise KeyFileError(f"{path} is empty: delete it to generate a new key") from None
            return key
        key = secrets.token_hex(16)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.key_generated = True
        return key

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "lock"

    def acquire_lock(self, url: str = "") -> None:
        """Take the data-dir lock (start() does this too); raise DataDirLocked if held."""
        if url:
            self.url = url
        if self._lock_fd is not None:
            self._write_holder()
            return
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._read_holder(fd)
            os.close(fd)
            raise DataDirLocked(self.data_dir, holder) from None
        self._lock_fd = fd
        self._write_holder()

    def _write_holder(self) -> None:
        assert self._lock_fd is not None
        info = {"pid": os.getpid(), "owner": self.owner, "url": self.url, "since": time.time()}
        data = json.dumps(info).encode()
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, data, 0)

    @staticmethod
    def _read_holder(fd: int) -> dict[str, Any]:
        try:
            raw = os.pread(fd, 4096, 0)
            info = json.loads(raw.decode()) if raw else {}
        except (OSError, ValueError):
            info = {}
        return info if isinstance(info, dict) else {}

    def release_lock(self) -> None:
        if self._lock_fd is not None:
            os.ftruncate(self._lock_fd, 0)
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Lock the data dir, open and migrate the store, start the ingest worker (which
        resumes queued work). Idempotent."""
        async with self._start_lock:
            if self._started:
                return
            self.acquire_lock()
            try:
                await asyncio.to_thread(self.store.open)
                swept = await asyncio.to_thread(self.store.sweep_temp_files)
                if swept:
                    log.info("removed %d temp file(s) left by an earlier, killed run", swept)
                await self.ingest.start()
                await self.automation.start()
            except BaseException:
                await asyncio.to_thread(self.store.close)
                self.release_lock()
                raise
            self._started = True

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the worker (in-flight jobs get ``grace`` s; the rest resume next start), close
        the store, release the lock. Idempotent."""
        async with self._start_lock:
            if not self._started:
                return
            self._started = False
            try:
                await self.automation.stop(grace)
                await self.ingest.stop(grace)
            finally:
                await asyncio.to_thread(self.store.close)
                self.release_lock()

    @property
    def started(self) -> bool:
        return self._started

    async def wait_idle(self, timeout: float = 30) -> None:
        """Until the ingest queue is empty and nothing is in flight (TimeoutError otherwise)."""
        await self.ingest.wait_idle(timeout)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
