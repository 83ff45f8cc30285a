"""Connection flood without a key (issue 25): idle half-sent connections, repeated log records.

The attack: with a 1,024 open-file limit, 1,100 idle connections that each sent half a request
head made every real request time out and wrote ~700 MB of log a minute. Now ``serve`` runs
uvicorn with a keep-alive timeout, a request-head size limit, a head-read timeout and a
connection cap that closes the connection waiting longest for a head (api.local.netguard), and
its log lets through only a few records of each kind a minute.

The live tests run uvicorn in the test's event loop on an ephemeral loopback port, with a cap of
8 connections instead of ~860.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.local import netguard, serve
from api.local.netguard import (
    ACCEPT_BACKLOG,
    FD_RESERVE,
    KEEP_ALIVE,
    MAX_CONNECTIONS,
    MAX_HEAD_BYTES,
    MIN_CONNECTIONS,
    GuardedH11Protocol,
    RepeatFilter,
    connection_cap,
)
from tests.faults import support

KEY = "flood-key-0123456789"
HALF_HEAD = b"GET /v2/users/me/apps HTTP/1.1\r\nHost: x\r\nX-Slow: "


# -- the log filter ----------------------------------------------------------------------------


def record(msg: str, *args: object, name: str = "asyncio", exc: bool = False) -> logging.LogRecord:
    exc_info = (OSError, OSError(24, "Too many open files"), None) if exc else None
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, exc_info)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_repeat_filter_drops_repeats_and_counts_them() -> None:
    clock = Clock()
    repeat = RepeatFilter(window=60, burst=3, clock=clock)
    accept = "socket.accept() out of system resource\nsocket: <fd=%d>"
    passed = [repeat.filter(record(accept, fd, exc=True)) for fd in range(1000)]
    assert passed == [True] * 3 + [False] * 997
    assert repeat.dropped == 997
    # Another kind is not held back by the first.
    assert repeat.filter(record("Exceeded concurrency limit.", name="uvicorn.error"))
    # After the window, one goes through again and says how many were dropped.
    clock.now += 60
    again = record(accept, 7, exc=True)
    assert repeat.filter(again)
    assert "(and 997 more like it in the last 60 s, not logged)" in again.getMessage()
    assert again.getMessage().startswith("socket.accept() out of system resource")
    # ... and counts as the first of the new window.
    assert [repeat.filter(record(accept, 8, exc=True)) for _ in range(3)] == [True, True, False]


def test_repeat_filter_keeps_the_log_small(tmp_path: Path) -> None:
    """100,000 accept errors with tracebacks through a real handler: a few lines are written."""
    path = tmp_path / "serve.log"
    handler = logging.FileHandler(path)
    handler.addFilter(RepeatFilter(window=60, burst=3))
    log = logging.getLogger("test-flood-asyncio")
    log.propagate = False
    log.addHandler(handler)
    try:
        for fd in range(100_000):
            try:
                raise OSError(24, "Too many open files")
            except OSError:
                log.error(
                    "socket.accept() out of system resource\nsocket: <fd=%d>",
                    fd % 50,
                    exc_info=True,
                )
    finally:
        log.removeHandler(handler)
        handler.close()
    text = path.read_text()
    assert text.count("out of system resource") == 3
    assert len(text) < 10_000


def test_repeat_filter_forgets_old_kinds() -> None:
    clock = Clock()
    repeat = RepeatFilter(window=10, burst=1, clock=clock, max_kinds=4)
    for i in range(4):
        assert repeat.filter(record(f"kind {i}"))
    clock.now += 10
    assert repeat.filter(record("kind 4"))
    assert len(repeat._seen) == 1


# -- serve's configuration ---------------------------------------------------------------------


def test_connection_cap_leaves_descriptors_for_the_server() -> None:
    assert connection_cap(1024) == 1024 - FD_RESERVE - ACCEPT_BACKLOG == 736
    assert connection_cap(1_048_576) == MAX_CONNECTIONS
    assert connection_cap(100) == MIN_CONNECTIONS


def test_build_config_sets_the_limits() -> None:
    config = serve.build_config(object(), cap=100)
    assert config.timeout_keep_alive == KEEP_ALIVE == 5
    assert config.h11_max_incomplete_event_size == MAX_HEAD_BYTES
    assert config.limit_concurrency == 100 + serve.CONCURRENCY_HEADROOM
    assert config.backlog == ACCEPT_BACKLOG
    assert isinstance(config.http, type) and issubclass(config.http, GuardedH11Protocol)
    assert config.http.cap == 100
    assert config.http.head_timeout == netguard.HEAD_TIMEOUT
    assert config.access_log is False and config.server_header is False


def test_serve_starts_with_the_limits_and_the_log_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``serve.main`` as the CLI runs it, up to the point where uvicorn would serve."""
    seen: dict[str, Any] = {}

    class NoServe:
        started = True

        def __init__(self, config: uvicorn.Config, announce: str, **_grpc: object) -> None:
            seen["config"] = config

        async def serve(self, sockets: list[socket.socket]) -> None:
            seen["sockets"] = sockets
            seen["filters"] = [f for h in logging.getLogger().handlers for f in h.filters]
            uvicorn_handlers = logging.getLogger("uvicorn").handlers
            seen["uvicorn"] = [[f for f in h.filters] for h in uvicorn_handlers]

    monkeypatch.setattr(serve, "_Server", NoServe)
    monkeypatch.setenv("CLARIFAI_PAT", "flood-key-0123456789")
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        status = serve.main(["--port", "0", "--data-dir", str(tmp_path / "d")])
    finally:
        for handler in root.handlers:
            if handler not in before:
                root.removeHandler(handler)
        for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "asyncio"):
            for handler in logging.getLogger(name).handlers:
                for f in list(handler.filters):
                    if isinstance(f, RepeatFilter):
                        handler.removeFilter(f)
    assert status == 0
    config: uvicorn.Config = seen["config"]
    assert config.timeout_keep_alive == KEEP_ALIVE
    assert config.h11_max_incomplete_event_size == MAX_HEAD_BYTES
    assert issubclass(config.http, GuardedH11Protocol)  # type: ignore[arg-type]
    cap = config.http.cap  # type: ignore[union-attr]
    assert cap == connection_cap()
    assert config.limit_concurrency == cap + serve.CONCURRENCY_HEADROOM
    assert any(isinstance(f, RepeatFilter) for f in seen["filters"])
    assert seen["uvicorn"], "uvicorn's own handler is missing"
    assert all(any(isinstance(f, RepeatFilter) for f in fs) for fs in seen["uvicorn"])


# -- live: uvicorn with the guard, in this event loop ------------------------------------------


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


@contextlib.asynccontextmanager
async def running(cap: int, head_timeout: float = 600.0) -> AsyncIterator[int]:
    config = serve.build_config(hello, cap=cap)
    assert issubclass(config.http, GuardedH11Protocol)  # type: ignore[arg-type]
    config.http.head_timeout = head_timeout  # type: ignore[union-attr]
    server = uvicorn.Server(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(60):
            while not server.started:
                await asyncio.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 60)
        sock.close()


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True once the server has closed this connection (EOF), polling up to a deadline."""
    try:
        async with asyncio.timeout(60):
            return await reader.read(1) == b""
    except (ConnectionResetError, TimeoutError):
        return True


async def test_half_sent_heads_make_room_for_a_real_request() -> None:
    async with running(cap=8) as port:
        flood = []
        for _ in range(12):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(HALF_HEAD)
            await writer.drain()
            flood.append((reader, writer))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            r = await c.get("/")
        assert (r.status_code, r.text) == (200, "hello")
        # The oldest half-sent connections were closed to make room (13 opened, cap 8).
        for reader, _ in flood[:5]:
            assert await closed_by_server(reader)
        for _, writer in flood:
            writer.close()


async def test_a_head_not_sent_in_time_is_closed() -> None:
    async with running(cap=8, head_timeout=0.2) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HALF_HEAD)
        await writer.drain()
        assert await closed_by_server(reader)
        writer.close()
        # A request that sends its head promptly is answered as usual.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            assert (await c.get("/")).text == "hello"


async def test_an_oversized_head_is_refused() -> None:
    async with running(cap=8) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 1024))
        await writer.drain()
        async with asyncio.timeout(60):
            answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 400"), answer[:80]
        writer.close()


# -- live: the attack as it was run, against `serve` -------------------------------------------

FLOOD = 1100


@pytest.fixture
def many_files() -> Iterator[None]:
    """This process may open the flood's sockets (and more): its soft limit raised."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FLOOD + 512
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the open-file hard limit ({hard}) is below the {wanted} this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_idle_flood_at_1024_files_leaves_serve_answering(tmp_path: Path, many_files: None) -> None:
    """1,100 half-sent connections to `serve` under a 1,024-file limit: a real request is
    answered, accept() never runs out of descriptors, and nothing is logged."""
    flood: list[socket.socket] = []
    with support.serve(tmp_path / "data", key=KEY, wrapper="tests.faults.low_fd_serve") as served:
        port = int(served.url.rsplit(":", 1)[1])
        try:
            for _ in range(FLOOD):
                sock = socket.create_connection(("127.0.0.1", port), timeout=60)
                sock.sendall(HALF_HEAD)
                flood.append(sock)
            with served.client(timeout=60) as http:
                r = http.get("/v2/users/me/apps")
            assert r.status_code == 200, r.text
        finally:
            for sock in flood:
                sock.close()
        support.kill(served.proc)
        assert served.proc.stderr is not None
        log = served.proc.stderr.read()
    assert "out of system resource" not in log, log[:2000]
    assert len(log) < 1_000_000
