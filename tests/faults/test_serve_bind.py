"""`serve` refuses a non-loopback address unless told `--allow-remote`. Nothing here binds or
sends to a non-loopback address: with the flag, the bind itself is replaced."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path

import pytest

from api.local import serve
from api.local.backend import DataDirLocked
from tests.faults.support import PYTHON, ROOT, clean_env

NON_LOOPBACK = ["0.0.0.0", "::", "192.0.2.10", "10.1.2.3", "2001:db8::1", "example.com"]


@pytest.mark.parametrize("entry", [["-m", "tui.cli", "serve"], ["-m", "api.local.serve"]])
def test_cli_refuses_all_interfaces_without_allow_remote(tmp_path: Path, entry: list[str]) -> None:
    data = tmp_path / "data"
    result = subprocess.run(
        [PYTHON, *entry, "--host", "0.0.0.0", "--port", "0", "--data-dir", str(data)],
        cwd=ROOT,
        env=clean_env(CLARIFAI_PAT="bind-key-0123456789"),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "refusing to bind 0.0.0.0" in lines[0]
    assert "not a loopback address" in lines[0] and "--allow-remote" in lines[0]
    assert not data.exists(), "the data dir was touched before the refusal"
    assert "bind-key-0123456789" not in result.stderr


@pytest.mark.parametrize("host", NON_LOOPBACK)
def test_every_non_loopback_host_is_refused(
    host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_bind(*args: object) -> socket.socket:
        raise AssertionError(f"tried to bind {args}")

    monkeypatch.setattr(serve, "_bind", no_bind)
    status = serve.main(["--host", host, "--port", "0", "--data-dir", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert status == 2
    assert f"refusing to bind {host}" in err and "--allow-remote" in err
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_allow_remote_lets_the_address_through_to_the_bind(
    host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the flag the address is accepted and handed to the bind (which, here, is stubbed to
    fail: the test never opens a non-loopback socket)."""
    asked: list[tuple[str, int]] = []

    def fake_bind(bind_host: str, port: int) -> socket.socket:
        asked.append((bind_host, port))
        raise OSError(99, "Cannot assign requested address (stubbed in the test)")

    monkeypatch.setattr(serve, "_bind", fake_bind)
    status = serve.main(
        ["--host", host, "--port", "0", "--allow-remote", "--data-dir", str(tmp_path / "d")]
    )
    err = capsys.readouterr().err
    assert asked == [(host, 0)]
    assert status == 1
    assert f"cannot bind {host}:0" in err and "refusing" not in err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_hosts_need_no_flag(
    host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str] = []

    def fake_bind(bind_host: str, port: int) -> socket.socket:
        asked.append(bind_host)
        raise OSError(98, "stubbed")

    monkeypatch.setattr(serve, "_bind", fake_bind)
    assert serve.main(["--host", host, "--port", "0", "--data-dir", str(tmp_path / "d")]) == 1
    assert asked == [host]
    assert "refusing" not in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "expected"), [([], None), (["--ingest-processes", "0"], 0)])
def test_ingest_processes_reach_the_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], expected: int | None
) -> None:
    seen: dict[str, object] = {}

    def backend(data_dir: Path, **kwargs: object) -> None:
        seen.update(kwargs)
        raise DataDirLocked(data_dir, {"owner": "tui"})  # serve's own early exit

    monkeypatch.setattr(serve, "LocalBackend", backend)
    assert serve.main(["--port", "0", "--data-dir", str(tmp_path), *argv]) == 1
    assert seen["ingest_processes"] == expected


def test_connections_to_the_bound_socket_send_without_nagle_delay() -> None:
    """uvicorn serves `_bind`'s socket with loop.create_server(sock=...); asyncio turns Nagle's
    algorithm off only on connections whose socket says it is TCP. With it on, every response
    body (written after its headers) waited ~40 ms for the client's delayed ACK."""

    async def accept_one() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Record(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        sock = serve._bind("127.0.0.1", 0)
        server = await asyncio.get_running_loop().create_server(Record, sock=sock)
        async with server:
            address = sock.getsockname()[:2]
            _, writer = await asyncio.open_connection(*address)
            nodelay = await asyncio.wait_for(seen, 10)
            writer.close()
            await writer.wait_closed()
        return nodelay

    assert asyncio.run(accept_one()) != 0
