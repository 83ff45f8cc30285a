"""Every CLI command against every kind of trouble: one line that says what and what to do,
the documented exit code, never a traceback, never "Task exception was never retrieved".

The commands run in-process (``tui.cli.main``) against a real ``clarifai-tui serve`` on an
ephemeral loopback port, a port nobody listens on, and a small server that answers 500 to
everything; retries wait no real time. A folder that cannot be written is a path under
``/proc`` (tests run as root in CI, where permission bits would not stop a write).
"""

from __future__ import annotations

import gc
import http.server
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import tui.connect
from api.retry import RetryPolicy
from tests.faults.support import Served, serve
from tests.local.http_server import serve_handler
from tui.cli import main

KEY = "cli-errors-key-0123456789"
UNWRITABLE = "/proc/1/clarifai-tui-cannot-write-here"


async def _no_wait(_seconds: float) -> None:
    return None


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("serve") / "data", key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def failing_url() -> Iterator[str]:
    """A server that answers every request with a 500 and an HTML page, as a broken proxy."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _fail(self) -> None:
            body = b"<html>Internal Server Error</html>"
            self.send_response(500)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = _fail

        def log_message(self, *args: Any) -> None:
            pass

    with serve_handler(Handler) as url:
        yield url


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def instant_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    real = tui.connect.connect

    async def connect(*args: Any, **kwargs: Any) -> Any:
        kwargs["retry"] = RetryPolicy(sleep=_no_wait)
        return await real(*args, **kwargs)

    monkeypatch.setattr(tui.connect, "connect", connect)


def _images(folder: Path, count: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", (8, 8), (i * 40, 10, 10)).save(folder / f"{i}.png")
    return folder


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'active_profile = "team"\n[profiles.team]\nbackend = "clarifai"\n'
        f'base_url = "{url}"\nuser_id = "me"\n'
    )
    return path


def _run(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *,
    key: str = KEY,
    state: str | None = None,
) -> tuple[int, str, str]:
    monkeypatch.setenv("CLARIFAI_PAT", key)
    monkeypatch.setenv("NO_PROXY", "*")
    if state is not None:
        monkeypatch.setenv("CLARIFAI_TUI_STATE_DIR", state)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse and config errors
        code = int(exc.code or 0)
    gc.collect()  # an unretrieved task exception is reported when its task is collected
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(command: str, err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith(f"clarifai-tui {command}:")]
    assert len(lines) == 1, err
    return lines[0]


def _assert_clean(out: str, err: str) -> None:
    assert "Traceback" not in out + err
    assert "Task exception" not in out + err


TROUBLES = ["wrong key", "unreachable", "server 500", "unwritable"]


@pytest.mark.parametrize(
    ("command", "trouble"),
    # demo makes its app, so a missing app is its normal first run, not a trouble
    [("upload", "missing app")] + [(c, t) for c in ("upload", "demo") for t in TROUBLES],
)
def test_upload_and_demo_say_one_line_and_exit_2(
    command: str,
    trouble: str,
    tmp_path: Path,
    served: Served,
    failing_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = {
        "missing app": served.url,
        "wrong key": served.url,
        "unreachable": f"http://127.0.0.1:{_closed_port()}",
        "server 500": failing_url,
        "unwritable": served.url,
    }[trouble]
    config = _config(tmp_path, url)
    argv = [command, "--config", str(config), "--app", f"cli-{command}"]
    if command == "upload":
        create = [] if trouble == "missing app" else ["--create-app"]
        argv += [*create, str(_images(tmp_path / "imgs"))]
    state = UNWRITABLE if trouble == "unwritable" else str(tmp_path / "state")
    key = "wrong-key-0123456789" if trouble == "wrong key" else KEY
    code, out, err = _run(argv, capsys, monkeypatch, key=key, state=state)
    _assert_clean(out, err)
    assert code == 2, out + err
    line = _one_error_line(command, err)
    expected = {
        "missing app": "--create-app",
        "wrong key": "key",
        "unreachable": "base_url",
        "server 500": "500",
        "unwritable": UNWRITABLE,
    }[trouble]
    assert expected in line


def test_upload_to_a_missing_app_names_it_and_create_app_makes_it(
    tmp_path: Path,
    served: Served,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config(tmp_path, served.url)
    folder = _images(tmp_path / "imgs", 3)
    state = str(tmp_path / "state")
    argv = ["upload", "--config", str(config), "--app", "missing-app", str(folder)]
    code, out, err = _run(argv, capsys, monkeypatch, state=state)
    _assert_clean(out, err)
    assert code == 2
    line = _one_error_line("upload", err)
    assert "'missing-app' does not exist" in line and "--create-app" in line
    assert err.strip() == line  # nothing else: no progress bar before the app is known

    code, out, err = _run([*argv, "--create-app"], capsys, monkeypatch, state=state)
    _assert_clean(out, err)
    assert code == 0, out + err
    assert "created app 'missing-app'" in err
    assert "uploaded: 3" in out
    with served.client() as http:
        r = http.get("/v2/users/me/apps/missing-app/inputs")
        assert r.status_code == 200 and len(r.json()["inputs"]) == 3


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["serve", "--port", "0", "--data-dir", UNWRITABLE], "pass --data-dir"),
        (["serve", "--host", "10.1.2.3", "--port", "0"], "--allow-remote"),
        (["serve", "--port", "not-a-number"], "invalid int value"),
        (["upload", "--concurrency", "x"], "invalid int value"),
        (["nosucharea"], "invalid choice"),
        (["--profile", "nosuchprofile"], "nosuchprofile"),
    ],
)
def test_bad_arguments_and_data_dirs_get_a_line_and_exit_2(
    argv: list[str],
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLARIFAI_TUI_CONFIG", str(tmp_path / "config.toml"))
    code, out, err = _run(argv, capsys, monkeypatch)
    _assert_clean(out, err)
    assert code == 2, out + err
    assert expected in err


def test_a_key_file_others_can_read_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "api_key").write_text("a-key-somebody-else-can-read\n")
    (data / "api_key").chmod(0o644)
    monkeypatch.delenv("CLARIFAI_PAT", raising=False)
    code = main(["serve", "--port", "0", "--data-dir", str(data)])
    out, err = capsys.readouterr()
    _assert_clean(out, err)
    assert code == 2
    assert "can be read by other users (mode 0644)" in err and "chmod 600" in err
    assert "a-key-somebody-else-can-read" not in out + err
