"""Shared pieces of the fault suite: tiny images, `serve` subprocesses, in-process backends.

Every subprocess started here is killed in a ``finally``; every wait polls with a deadline.
"""

from __future__ import annotations

import base64
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DB_NAME = "clarifai-tui.sqlite3"
#: Deadline for anything a test waits on; generous so a busy 2-core CI box does not flake.
DEADLINE = 60.0


def _rgb_png(size: int, raw: bytes, level: int) -> bytes:
    """A ``size`` x ``size`` 8-bit RGB PNG of ``raw`` scanlines (filter byte first)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, level))
        + chunk(b"IEND", b"")
    )


def png_without_pixels(size: int) -> bytes:
    """A PNG whose header claims ``size`` x ``size`` RGB pixels, with no pixel data (for what
    is decided from the header alone, such as the decompression bomb guard)."""
    return _rgb_png(size, b"", 9)


def noisy_png(index: int, size: int = 320) -> bytes:
    """A valid PNG of random pixels (seeded by ``index``): it hardly compresses, so at the
    default size it is larger than the blobs the store keeps inside the database."""
    import random

    rng = random.Random(index)
    return _rgb_png(size, b"".join(b"\x00" + rng.randbytes(size * 3) for _ in range(size)), 1)


def tiny_png(index: int, size: int = 1) -> bytes:
    """A valid ``size`` x ``size`` RGB PNG whose colour encodes ``index`` (unique up to 2**24)."""
    r, g, b = (index >> 16) & 0xFF, (index >> 8) & 0xFF, index & 0xFF
    row = b"\x00" + bytes([r, g, b]) * size
    return _rgb_png(size, row * size, 9)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def image_item(ident: str, data: bytes) -> dict[str, Any]:
    return {"id": ident, "data": {"image": {"base64": b64(data)}}}


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: no inherited key, no proxies, loopback only."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CLARIFAI_PAT", "CLARIFAI_TUI_CONFIG", "CLARIFAI_API_BASE")
        and not k.lower().endswith("_proxy")
    }
    env["NO_PROXY"] = "*"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def kill(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL a process we started (if still running) and reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(30)


@dataclass
class Served:
    url: str
    key: str
    proc: subprocess.Popen[str]
    lines: list[str]

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Key {self.key}"},
            timeout=timeout,
            trust_env=False,
        )


def _start(argv: list[str], data_dir: Path, key: str, env_extra: dict[str, str]) -> Served:
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=clean_env(CLARIFAI_PAT=key, **env_extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + DEADLINE
        while True:
            line = proc.stdout.readline()
            if not line:
                err = proc.stderr.read() if proc.stderr else ""
                raise AssertionError(f"serve exited with {proc.wait(10)} before listening: {err}")
            lines.append(line)
            if "listening on" in line:
                url = line.split("listening on ", 1)[1].split()[0]
                assert url.startswith("http://127.0.0.1:"), line
                return Served(url, key, proc, lines)
            assert time.monotonic() < deadline, "serve did not announce its address in time"
    except BaseException:
        kill(proc)
        raise


@contextmanager
def serve(
    data_dir: Path,
    *,
    key: str = "fault-key",
    wrapper: str | None = None,
    env: dict[str, str] | None = None,
    extra: tuple[str, ...] = (),
) -> Iterator[Served]:
    """``python -m api.local.serve --port 0`` on loopback (or a wrapper module running the same
    ``main``); SIGKILLed on exit if the test did not end it itself."""
    module = wrapper or "api.local.serve"
    argv = [PYTHON, "-m", module, "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir)]
    argv += extra
    served = _start(argv, data_dir, key, env or {})
    try:
        yield served
    finally:
        kill(served.proc)
        for stream in (served.proc.stdout, served.proc.stderr):
            if stream is not None:
                stream.close()


def poll(
    check: Callable[[], Any], what: str, timeout: float = DEADLINE, every: float = 0.02
) -> Any:
    """Call ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def list_all(http: httpx.Client, app: str, per_page: int = 1000) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        r = http.get(f"/v2/users/me/apps/{app}/inputs", params={"page": page, "per_page": per_page})
        assert r.status_code == 200, r.text
        items = r.json().get("inputs", [])
        out.extend(items)
        if len(items) < per_page:
            return out
        page += 1


def counts(http: httpx.Client, app: str) -> dict[str, int]:
    r = http.get(f"/v2/users/me/apps/{app}/inputs/status")
    assert r.status_code == 200, r.text
    raw = r.json()["counts"]
    return {k: int(raw.get(k, 0) or 0) for k in ("processed", "to_process", "errors", "processing")}


def integrity(db_path: Path) -> str:
    conn = sqlite3.connect(db_path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()
