"""A distinctive PAT, driven through every failure path we have: it must appear in no output,
log record, exception message, repr or traceback, and in the config only when saved on purpose
(then the file is 0600)."""

from __future__ import annotations

import asyncio
import logging
import stat
import subprocess
import traceback
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from api.client import ClarifaiClient
from api.errors import ApiError
from api.local.backend import LocalBackend
from api.models import NewInput
from api.retry import RetryPolicy
from api.upload import Uploader, UploadOptions, collect_sources
from tests.faults.faulty import FaultyTransport
from tests.faults.support import PYTHON, ROOT, clean_env, serve, tiny_png
from tui.config import load_config, save_config

PAT = "pat-SECRET-7f3a9c1e5b2d4680"


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


def _texts(exc: BaseException) -> list[str]:
    out = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        out += [str(cur), repr(cur), str(cur.args)]
        cur = cur.__cause__ or cur.__context__
    return out


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "api", "api.client", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _client(transport: httpx.AsyncBaseTransport | None, base_url: str) -> ClarifaiClient:
    return ClarifaiClient(
        base_url=base_url,
        api_key=PAT,
        user_id="me",
        app_id="app",
        transport=transport,
        retry=RetryPolicy(max_attempts=3, sleep=no_sleep, jitter=False),
    )


async def test_client_failure_paths_never_show_the_pat(
    tmp_path: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    texts: list[str] = []
    backend = LocalBackend(tmp_path / "data", api_key="the-servers-own-key")
    await backend.start()
    try:
        # 401: the server does not know this key.
        async with _client(httpx.ASGITransport(app=backend.app), "http://embedded") as client:
            texts.append(repr(client))
            with pytest.raises(ApiError) as info:
                await client.list_inputs()
            assert info.value.is_auth
            texts += _texts(info.value)
            # An upload that cannot authenticate.
            uploader = Uploader(
                client, state_dir=tmp_path / "state", options=UploadOptions(poll_interval=0)
            )
            (tmp_path / "img").mkdir()
            (tmp_path / "img" / "a.png").write_bytes(tiny_png(1))
            with pytest.raises(ApiError) as info:
                await uploader.run(collect_sources([tmp_path / "img"]))
            texts += _texts(info.value)
        # Retries exhausted: 503s and resets on every call.
        for kind in ("unavailable", "reset_before", "reset_after", "throttle", "timeout_after"):
            faults = FaultyTransport(httpx.ASGITransport(app=backend.app), rate=1.0, kinds=[kind])
            async with _client(faults, "http://embedded") as client:
                with pytest.raises(ApiError) as info:
                    await client.post_inputs([NewInput(data=tiny_png(2))])
                texts += _texts(info.value)
    finally:
        await backend.stop()
    # Nothing listening (a closed loopback port).
    async with _client(None, "http://127.0.0.1:9") as client:
        with pytest.raises(ApiError) as info:
            await client.get_app()
        texts += _texts(info.value)
    texts += [r.getMessage() for r in debug_logs.records]
    texts += [str(r.args) for r in debug_logs.records]
    texts.append(debug_logs.text)
    assert debug_logs.records, "DEBUG logging was on: something should have been logged"
    leaks = [t for t in texts if PAT in t]
    assert not leaks, leaks[:3]


def test_serve_and_cli_upload_never_print_the_pat(tmp_path: Path) -> None:
    folder = tmp_path / "img"
    folder.mkdir()
    (folder / "a.png").write_bytes(tiny_png(3))
    outputs: list[str] = []
    with serve(tmp_path / "data", key=PAT) as server:
        with server.client() as http:
            http.post("/v2/users/me/apps", json={"apps": [{"id": "app"}]})
            http.post("/v2/users/me/apps/app/inputs", content=b"[" * 100_000)  # server error path
            bad = httpx.get(
                f"{server.url}/v2/users/me/apps",
                headers={"Authorization": f"Key {PAT}x"},
                trust_env=False,
            )
            assert bad.status_code == 401 and PAT not in bad.text
        config = tmp_path / "config.toml"
        for base_url, key in ((server.url, PAT + "-wrong"), ("http://127.0.0.1:9", PAT)):
            config.write_text(
                f'active_profile = "t"\n[profiles.t]\nbackend = "clarifai"\n'
                f'base_url = "{base_url}"\nuser_id = "me"\napp_id = "app"\n'
            )
            result = subprocess.run(
                [PYTHON, "-m", "tui.cli", "upload", "--config", str(config), str(folder)],
                cwd=ROOT,
                env=clean_env(CLARIFAI_PAT=key, CLARIFAI_TUI_STATE_DIR=str(tmp_path / "s")),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 2, result
            outputs += [result.stdout, result.stderr]
            assert PAT not in config.read_text()
        server.proc.terminate()
        out, err = server.proc.communicate(timeout=30)
        outputs += ["".join(server.lines), out, err]
    leaks = [o for o in outputs if PAT in o]
    assert not leaks, leaks


def test_config_holds_the_pat_only_when_saved_on_purpose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLARIFAI_PAT", PAT)
    path = tmp_path / "cfg" / "config.toml"
    config = load_config(path)
    assert config.profiles["clarifai"].resolved_pat() == PAT
    save_config(config.with_profile(replace(config.profiles["clarifai"], app_id="park")))
    assert PAT not in path.read_text() and PAT not in repr(load_config(path))

    saved = config.with_profile(replace(config.profiles["clarifai"], pat=PAT))
    assert PAT not in repr(saved) and PAT not in repr(saved.profiles["clarifai"])
    save_config(saved)
    assert PAT in path.read_text()
    for file in path.parent.iterdir():
        if PAT in file.read_text():
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    # Removing it again: no copy left readable by others.
    save_config(saved.with_profile(replace(saved.profiles["clarifai"], pat="")))
    assert PAT not in path.read_text()
    for file in path.parent.iterdir():
        if PAT in file.read_text():
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
