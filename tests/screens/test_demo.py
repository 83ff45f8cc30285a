"""The demo app: `clarifai-tui demo` twice (idempotent), and the app picker's offer on an
empty install, against the embedded backend."""

from __future__ import annotations

from pathlib import Path

import pytest

import api.demo_setup as demo_setup
from api.demo import DEMO_APP_ID, DEMO_VIDEOS, DIGIT_CONCEPTS
from api.models import AnnotationFilter, AnnotationStatus
from tests.tui_helpers import connected, local_config, make_tui, picker_opened_alone, wait_until
from tui.config import load_config
from tui.connect import connect
from tui.demo import run_demo_command
from tui.widgets.app_picker import AppPicker

DIGITS = 1797


@pytest.fixture(autouse=True)
def _small_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_setup, "DEFAULT_UPLOADS", 60)
    monkeypatch.setattr(demo_setup, "LABELS_PER_CONCEPT", 2)


async def app_state(tmp_path: Path) -> tuple[int, dict[str, int], set[str]]:
    """(inputs, labels per concept, concept ids) of the demo app."""
    connection = await connect(local_config(tmp_path).profile(), owner="test-check")
    try:
        client = connection.client.with_app(DEMO_APP_ID)
        inputs = [i async for i in client.iter_inputs()]
        per_concept: dict[str, int] = {}
        trusted = [AnnotationFilter(status=AnnotationStatus.SUCCESS)]
        async for hit in client.iter_search_annotations(trusted):
            for c in hit.annotation.concepts if hit.annotation else ():
                per_concept[c.id] = per_concept.get(c.id, 0) + 1
        concepts = {c.id async for c in client.iter_concepts()}
        return len(inputs), per_concept, concepts
    finally:
        await connection.aclose()


async def test_demo_command_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = local_config(tmp_path)
    assert await run_demo_command(config, config.profile(), None) == 0
    first = capsys.readouterr().out
    assert "60 uploaded" in first and "20 written" in first
    folder = tmp_path / "data" / "demo-new-images"
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == DIGITS - 60 + len(DEMO_VIDEOS) and files[0].startswith("0060-")
    assert files[-len(DEMO_VIDEOS) :] == [
        "video-0-1-2-3-4.mp4",
        "video-3-1-4-1-5.mp4",
        "video-5-6-7-8-9.mp4",
    ]
    assert "new videos for later: 3 in the same folder (3 written now)" in first
    # the config now opens the demo app
    config = load_config(config.path)
    assert config.profile().app_id == DEMO_APP_ID
    # again: nothing new anywhere
    assert await run_demo_command(config, config.profile(), None) == 0
    second, second_err = capsys.readouterr()
    assert second_err == ""  # one stream: stdout
    # this run only: nothing created, uploaded or written is claimed
    assert "created" not in second and "uploading" not in second
    assert "written to" not in second and "new images for later: all" in second
    assert "0 uploaded, 60 already present" in second
    assert "0 written, 20 already there" in second and "(0 written now)" in second
    assert "new videos for later: all 3 already there" in second
    inputs, labels, concepts = await app_state(tmp_path)
    assert inputs == 60
    assert labels == dict.fromkeys(DIGIT_CONCEPTS, 2)
    assert concepts == set(DIGIT_CONCEPTS)


async def test_empty_install_offers_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLARIFAI_TUI_STATE_DIR", str(tmp_path / "state"))
    app = make_tui(tmp_path, area="concepts")
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        # With no app yet, the picker opens by itself (and ctrl+o does not stack another).
        await picker_opened_alone(pilot, app)
        picker = app.screen
        status = picker.query_one("#picker-status")
        await wait_until(pilot, lambda: "demo" in str(status.render()), what="the offer")
        await pilot.press("d")
        await wait_until(
            pilot, lambda: app.session.app_id == DEMO_APP_ID, timeout=60, what="demo built"
        )
        assert not isinstance(app.screen, AppPicker)
    inputs, labels, concepts = await app_state(tmp_path)
    assert inputs == 60 and sum(labels.values()) == 20 and len(concepts) == 10
    folder = tmp_path / "data" / "demo-new-images"
    assert len(list(folder.iterdir())) == DIGITS - 60 + len(DEMO_VIDEOS)
