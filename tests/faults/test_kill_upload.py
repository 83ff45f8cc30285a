"""SIGKILL a real `clarifai-tui upload` once some batches are acknowledged, then run it again.

The upload talks to `clarifai-tui serve` (a `clarifai` profile pointing at it), so the test can
watch the server's input count to pick the moment of the kill.
"""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

from tests.faults.support import (
    PYTHON,
    ROOT,
    clean_env,
    counts,
    kill,
    list_all,
    poll,
    serve,
    tiny_png,
)

APP = "up"
GOOD = 1500
BROKEN = ("broken-a.png", "broken-b.jpg", "broken-c.png")


def _config(path: Path, url: str) -> None:
    path.write_text(
        'active_profile = "team"\n\n'
        "[profiles.team]\n"
        'backend = "clarifai"\n'
        f'base_url = "{url}"\n'
        'user_id = "me"\n'
        f'app_id = "{APP}"\n',
        encoding="utf-8",
    )


def test_killed_upload_resumes_and_every_file_lands_once(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(GOOD):
        (folder / f"{i:04d}.png").write_bytes(tiny_png(i))
    for name in BROKEN:
        (folder / name).write_bytes(b"this is not an image: " + name.encode())
    config = tmp_path / "config.toml"
    # Broken files are named as failed and never sent (issue #26: on the platform each would
    # be a paid operation and a junk input): the app ends with exactly the good ones.
    total = GOOD

    with serve(tmp_path / "data") as server, server.client() as http:
        assert http.post("/v2/users/me/apps", json={"apps": [{"id": APP}]}).status_code == 200
        _config(config, server.url)
        env = clean_env(CLARIFAI_PAT=server.key, CLARIFAI_TUI_STATE_DIR=str(tmp_path / "state"))
        argv = [
            PYTHON, "-m", "tui.cli", "upload", "--config", str(config), str(folder),
            "--concurrency", "1",
        ]  # fmt: skip

        def run() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
            )

        first = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:

            def some_acknowledged() -> int:
                c = counts(http, APP)
                stored = sum(c.values())
                return stored if stored >= 128 else 0

            at_kill = poll(some_acknowledged, "a first batch to be acknowledged", every=0.005)
            assert first.poll() is None, "the upload ended before it could be killed"
            first.send_signal(signal.SIGKILL)
            assert first.wait(30) == -signal.SIGKILL
        finally:
            kill(first)
            first.communicate(timeout=30)
        assert at_kill >= 128

        second = run()
        assert second.returncode == 1, (second.stdout, second.stderr)
        summary = second.stdout
        head = summary.splitlines()[0]
        assert re.match(rf"uploaded: {GOOD}, already present: 0, failed: {len(BROKEN)} ", head), (
            summary
        )
        failed_lines = [line for line in summary.splitlines() if line.startswith("  ")]
        for name in BROKEN:
            line = next((x for x in failed_lines if name in x), "")
            assert line, f"{name} not named among the failures:\n{summary}"
            assert line.split(f"{name}: ", 1)[1].strip(), f"no reason given for {name}: {line}"

        listed = list_all(http, APP)
        ids = [str(i["id"]) for i in listed]
        assert len(ids) == len(set(ids)) == total, (len(ids), len(set(ids)))
        codes = sorted(i["status"]["code"] for i in listed)
        assert codes.count(30000) == GOOD and codes.count(30002) == 0
        for name in BROKEN:
            assert "not a supported image" in next(x for x in failed_lines if name in x)

        third = run()  # again: nothing new, nothing twice
        assert third.returncode == 1, (third.stdout, third.stderr)
        assert third.stdout.startswith(
            f"uploaded: 0, already present: {GOOD}, failed: {len(BROKEN)}"
        ), third.stdout
        assert len(list_all(http, APP)) == total
        assert server.key not in second.stdout + second.stderr + third.stdout + third.stderr
