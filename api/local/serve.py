"""``clarifai-tui serve``: the embedded backend under uvicorn, for several clients at once.

Prints exactly one line once the socket is bound (tests read it to learn an ephemeral port)::

    clarifai-tui serve: listening on http://127.0.0.1:8585 (data: /path/to/data)

and, only when the key was generated just now, one more line with the key. Keys and
Authorization headers are never logged (uvicorn's access log is off).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import ipaddress
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import uvicorn

from api.local.backend import DataDirLocked, KeyFileError, LocalBackend
from api.local.netguard import (
    ACCEPT_BACKLOG,
    KEEP_ALIVE,
    MAX_HEAD_BYTES,
    guarded_protocol,
    install_repeat_filter,
)


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("clarifai-tui")) / "local"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: The shortest key ``serve`` accepts on a non-loopback address. Anyone who can reach the port
#: can try keys (at ALLOWANCE then 10 a minute: api.local.throttle); generated keys are longer.
MIN_REMOTE_KEY = 16


def short_key_refusal(host: str, key: str, source: str) -> str:
    """Why ``key`` may not guard a bind to ``host``; "" when it may."""
    if _is_loopback(host) or len(key) >= MIN_REMOTE_KEY:
        return ""
    return (
        f"clarifai-tui serve: refusing to serve {host} with a {len(key)}-character API key "
        f"(from {source}): a non-loopback address needs a key of at least {MIN_REMOTE_KEY} "
        "characters. Set a longer CLARIFAI_PAT, or unset it and remove the data dir's api_key "
        "file to have a long one generated."
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="clarifai-tui serve",
        description="Serve the embedded Clarifai-compatible backend over HTTP.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8585, help="port (default 8585; 0 picks a free one)")
    p.add_argument("--data-dir", type=Path, default=None, help="data directory")
    p.add_argument(
        "--allow-private-urls",
        action="store_true",
        help="let URL inputs point at private, loopback and link-local addresses",
    )
    p.add_argument(
        "--ingest-processes",
        type=int,
        default=None,
        metavar="N",
        help="worker processes that decode and embed new inputs "
        "(default: one per core, up to 8; 0: threads of the server process)",
    )
    p.add_argument(
        "--grpc-port",
        type=int,
        default=None,
        metavar="P",
        help="also serve the V2 API over gRPC on this port, for the official clarifai SDK "
        "(off by default; 0 picks a free one; same host, key and data as REST)",
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding a non-loopback address (anyone who can reach it needs the key)",
    )
    return p


#: The cyclic garbage collector's first threshold once serving (CPython's default is 700). A
#: PostInputs body of 128 inputs parses into ~600 dicts and lists at once, freed when the request
#: ends: at 700, collections kept starting mid-request (~300 of them in an ingest of 10,000
#: inputs); at 10,000 they are rare. Cycles are still collected, in larger rounds.
GC_THRESHOLD = 10_000


def tune_gc() -> None:
    """Make garbage collection cheap for a long-running server, once it has started.

    Everything alive now (modules, the app, its routes: most of the heap) moves to the
    permanent generation (``gc.freeze``), which full collections no longer traverse: each took
    30-45 ms with the GIL held, three times in an ingest of 10,000 inputs. Then the first
    threshold rises to GC_THRESHOLD. Measured over a server's start plus that ingest,
    collections took 150-230 ms of CPU before and 35-50 ms after. Objects made later are
    collected as usual.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


#: glibc's M_MMAP_THRESHOLD (mallopt parameter number) and the value serve sets it to.
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 4 * 1024 * 1024


def return_freed_memory() -> bool:
    """Make glibc give large freed blocks back to the system at once (True if it was set).

    Pillow allocates a decoded image in blocks of up to 16 MB. glibc raises its mmap threshold
    as such blocks are freed, after which they come from the heap of the thread's malloc arena
    and stay there: every thread that ever decoded a 50-megapixel image kept ~200 MB, and six
    threads of PostModelOutputs took serve to 874 MB though only one image was decoded at a
    time. A fixed threshold serves every allocation above it with its own mapping, unmapped
    when freed (and turns the dynamic adjustment off). No effect where libc is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False


class _Server(uvicorn.Server):
    """uvicorn.Server that announces the bound address and exits 0 on SIGINT/SIGTERM."""

    def __init__(
        self,
        config: uvicorn.Config,
        announce: str,
        *,
        grpc_app: Any = None,
        grpc_host: str = "127.0.0.1",
        grpc_port: int | None = None,
    ) -> None:
        super().__init__(config)
        self._announce = announce
        self._grpc_app = grpc_app
        self._grpc_host = grpc_host
        self._grpc_port = grpc_port
        self._grpc: Any = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            tune_gc()
            print(self._announce, flush=True)
            if self._grpc_port is not None:
                await self._start_grpc()

    async def _start_grpc(self) -> None:
        """The V2 service over gRPC beside REST, same process, same app (api.local.gateway)."""
        from api.local.gateway import start_grpc

        try:
            self._grpc = await start_grpc(self._grpc_app, self._grpc_host, self._grpc_port or 0)
        except (OSError, RuntimeError) as exc:
            print(
                f"clarifai-tui serve: cannot bind gRPC to {self._grpc_host}:{self._grpc_port}: "
                f"{exc}",
                file=sys.stderr,
                flush=True,
            )
            self.should_exit = True
            return
        host = f"[{self._grpc_host}]" if ":" in self._grpc_host else self._grpc_host
        print(f"clarifai-tui serve: gRPC on {host}:{self._grpc[2]}", flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._grpc is not None:
            server, gateway, _ = self._grpc
            await server.stop(2)
            await gateway.aclose()
            self._grpc = None
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


#: uvicorn's limit_concurrency above the connection cap. uvicorn counts open connections (idle
#: ones too) with requests in flight and answers 503 past the limit: at or below the cap it
#: would answer 503 to everyone during an idle flood. Above it, it is the backstop for the
#: moment between the guard closing a connection and that connection being gone.
CONCURRENCY_HEADROOM = 32


def build_config(app: Any, *, cap: int | None = None) -> uvicorn.Config:
    """The uvicorn configuration of ``serve`` (limits in api.local.netguard)."""
    protocol = guarded_protocol(cap)
    return uvicorn.Config(
        app,
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        timeout_graceful_shutdown=10,
        http=protocol,
        timeout_keep_alive=KEEP_ALIVE,
        limit_concurrency=protocol.cap + CONCURRENCY_HEADROOM,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        backlog=ACCEPT_BACKLOG,
    )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # connections whose socket says it is TCP. With it on, a response's body, written after its
    # headers, waited for the client's delayed ACK of the headers: ~40 ms on every response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(ACCEPT_BACKLOG)  # asyncio listens again with uvicorn's backlog: the same
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    host: str = args.host
    if not _is_loopback(host) and not args.allow_remote:
        print(
            f"clarifai-tui serve: refusing to bind {host}, which is not a loopback address: "
            "anyone who can reach it could try keys. Pass --allow-remote to do it anyway.",
            file=sys.stderr,
        )
        return 2
    env_key = os.environ.get("CLARIFAI_PAT", "")
    refusal = short_key_refusal(host, env_key, "CLARIFAI_PAT") if env_key else ""
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    data_dir: Path = (args.data_dir or default_data_dir()).expanduser().resolve()
    try:
        sock = _bind(host, args.port)
    except OSError as exc:
        print(f"clarifai-tui serve: cannot bind {host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}"
    try:
        backend = LocalBackend(
            data_dir,
            allow_private_urls=args.allow_private_urls,
            owner="serve",
            ingest_processes=args.ingest_processes,
            warm_ingest=True,
        )
        backend.acquire_lock(url)
    except DataDirLocked as exc:
        sock.close()
        print(f"clarifai-tui serve: {exc}", file=sys.stderr)
        return 1
    except KeyFileError as exc:
        sock.close()
        print(f"clarifai-tui serve: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        sock.close()
        where = exc.filename or data_dir
        print(
            f"clarifai-tui serve: cannot use the data dir {data_dir}: {exc.strerror or exc} "
            f"({where}); pass --data-dir with a folder you may write",
            file=sys.stderr,
        )
        return 2
    refusal = short_key_refusal(host, backend.api_key, str(data_dir / "api_key"))
    if refusal:
        sock.close()
        backend.release_lock()
        print(refusal, file=sys.stderr)
        return 2
    if backend.key_generated:
        print(
            f"clarifai-tui serve: generated API key {backend.api_key} "
            f"(saved 0600 in {data_dir / 'api_key'}; send it as 'Authorization: Key <key>')",
            flush=True,
        )
    return_freed_memory()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = build_config(backend.app)
    install_repeat_filter()
    server = _Server(
        config,
        f"clarifai-tui serve: listening on {url} (data: {data_dir})",
        grpc_app=backend.app,
        grpc_host=host,
        grpc_port=args.grpc_port,
    )
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        sock.close()
        backend.release_lock()
    return 0 if server.started else 1


if __name__ == "__main__":
    raise SystemExit(main())
