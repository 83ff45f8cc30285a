"""The labelling loop by keys: label three inputs, undo one, read back from the server;
back, skip, "none of these", relabelling an input labelled at upload; a snapshot at 80x24."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from api.client import ClarifaiClient
from api.models import AnnotationStatus, Concept, NewInput
from screens.concepts import ConceptsScreen
from screens.labelling import LabellingScreen
from tests.tui_helpers import (
    connected,
    labelling_shown,
    local_config,
    make_tui,
    png_bytes,
    wait_until,
)
from tui.app import ClarifaiTUI
from tui.connect import connect

APP = "park"
CONCEPTS = ("walker", "runner", "bike_rider")


async def seed(tmp_path: Path, count: int = 5) -> None:
    """`count` processed inputs in-0.. (no labels) and three concepts; in-0 carries the
    concept runner from its upload (an input-level annotation by the owner)."""
    connection = await connect(local_config(tmp_path).profile(), owner="test-setup")
    try:
        await connection.client.create_app(APP)
        client = connection.client.with_app(APP)
        await client.create_concepts([Concept(c, name=c) for c in CONCEPTS])
        await client.post_inputs(
            [
                NewInput(
                    data=png_bytes((i * 40, 200 - i * 30, 90)),
                    id=f"in-{i}",
                    concepts=(Concept("runner"),) if i == 0 else (),
                )
                for i in range(count)
            ]
        )
        assert connection.backend is not None
        await connection.backend.wait_idle()
    finally:
        await connection.aclose()


async def open_labelling(pilot: Pilot[Any]) -> LabellingScreen:
    app = pilot.app
    await connected(pilot)
    concepts = app.screen
    assert isinstance(concepts, ConceptsScreen)
    await wait_until(pilot, lambda: not concepts.busy, what="concepts")
    await pilot.press("l")
    await wait_until(pilot, lambda: isinstance(app.screen, LabellingScreen), what="labelling")
    screen = app.screen
    assert isinstance(screen, LabellingScreen)
    await labelling_shown(pilot, screen)
    return screen


async def labels(client: ClarifaiClient) -> dict[str, set[tuple[str, float]]]:
    """input id -> the (concept, value) pairs of its SUCCESS human annotations."""
    out: dict[str, set[tuple[str, float]]] = {}
    for a in await client.list_annotations(per_page=100):  # the caller's own, human ones
        if a.status_code == AnnotationStatus.SUCCESS and not a.model_version_id:
            out.setdefault(a.input_id, set()).update((c.id, c.value) for c in a.concepts)
    return out


async def test_label_three_and_undo_one(tmp_path: Path) -> None:
    await seed(tmp_path)
    app = make_tui(tmp_path, app_id=APP, area="concepts")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_labelling(pilot)
        assert screen.labeller is not None
        order = [i.id for i in screen.labeller.inputs]
        assert order[-1] == "in-0"  # labelled at upload: last
        assert "4 unlabelled" in str(screen.query_one("#label-counter").render())
        concepts = str(screen.query_one("#label-concepts").render())
        assert "1 walker" in concepts and "3 bike_rider" in concepts
        first, second, third = order[:3]
        await pilot.press("1", "space")  # walker
        await labelling_shown(pilot, screen)
        assert screen.current is not None and screen.current.id == second
        await pilot.press("2", "3", "enter")  # runner and bike_rider
        await labelling_shown(pilot, screen)
        await pilot.press("3", "3", "3", "space")  # bike_rider (toggled on, off, on)
        await labelling_shown(pilot, screen)
        client = app.session.app_client()
        after = await labels(client)
        assert after[first] == {("walker", 1.0)}
        assert after[second] == {("runner", 1.0), ("bike_rider", 1.0)}
        assert after[third] == {("bike_rider", 1.0)}
        # undo: the third save is gone on the server, and the loop is back on that input
        await pilot.press("u")
        await labelling_shown(pilot, screen)
        assert screen.current is not None and screen.current.id == third
        after = await labels(client)
        assert third not in after
        assert after[first] == {("walker", 1.0)} and len(after[second]) == 2
        assert "2 saved" in str(screen.query_one("#label-counter").render())
        # backspace goes back and shows what was saved
        await pilot.press("backspace")
        await labelling_shown(pilot, screen)
        assert screen.current is not None and screen.current.id == second
        assert screen.on == ["runner", "bike_rider"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConceptsScreen), what="back")


async def test_none_skip_and_relabel_an_upload_label(tmp_path: Path) -> None:
    await seed(tmp_path, count=2)
    app = make_tui(tmp_path, app_id=APP, area="concepts")
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app, ClarifaiTUI)
        screen = await open_labelling(pilot)
        assert screen.labeller is not None
        assert [i.id for i in screen.labeller.inputs] == ["in-1", "in-0"]
        # space with nothing toggled writes nothing; n writes an explicit negative
        await pilot.press("space")
        await labelling_shown(pilot, screen)
        client = app.session.app_client()
        assert "in-1" not in await labels(client)
        await pilot.press("backspace")
        await labelling_shown(pilot, screen)
        await pilot.press("n", "space")
        await labelling_shown(pilot, screen)
        assert (await labels(client))["in-1"] == {(c, 0.0) for c in CONCEPTS}
        # in-0 came labelled runner from its upload: the loop shows it, and replaces it
        assert screen.current is not None and screen.current.id == "in-0"
        assert screen.on == ["runner"]
        await pilot.press("2", "1", "space")
        await labelling_shown(pilot, screen)
        assert (await labels(client))["in-0"] == {("walker", 1.0)}
        assert screen.current is None  # the end
        assert "End of the 2 inputs" in str(screen.query_one("#label-meta").render())
        # undo brings the upload's label back
        await pilot.press("u")
        await labelling_shown(pilot, screen)
        assert (await labels(client))["in-0"] == {("runner", 1.0)}
        # s skips without writing
        await pilot.press("s")
        await labelling_shown(pilot, screen)
        assert screen.current is None


def test_labelling_snapshot(tmp_path: Path, snap_compare: Any) -> None:
    asyncio.run(seed(tmp_path, count=3))
    app = make_tui(tmp_path, app_id=APP, area="concepts")

    async def ready(pilot: Pilot[Any]) -> None:
        screen = await open_labelling(pilot)
        await pilot.press("1", "3")
        await wait_until(
            pilot, lambda: bool(screen.query_one("#label-preview").lines), what="preview"
        )
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


async def test_a_video_is_labelled_as_a_whole_with_its_first_frame_shown(tmp_path: Path) -> None:
    """Issue #27: a video input in the labelling loop previews its thumbnail (first frame)
    and takes input-level labels like an image."""
    from tests.video_files import tiny_video
    from tui.widgets.preview import ImagePreview

    connection = await connect(local_config(tmp_path).profile(), owner="test-setup")
    try:
        await connection.client.create_app(APP)
        client = connection.client.with_app(APP)
        await client.create_concepts([Concept(c, name=c) for c in CONCEPTS])
        (posted,) = await client.post_inputs(
            [NewInput(data=tiny_video(10, shade=200), id="clip", video=True)]
        )
        assert posted.ok, posted.reason
        assert connection.backend is not None
        await connection.backend.wait_idle()
    finally:
        await connection.aclose()
    app = make_tui(tmp_path, app_id=APP, area="concepts")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_labelling(pilot)
        assert screen.current is not None and screen.current.id == "clip"
        preview = screen.query_one(ImagePreview)
        await wait_until(pilot, lambda: preview.label == "video: its first frame", what="thumbnail")
        await pilot.press("2", "space")  # runner
        await labelling_shown(pilot, screen)
        assert (await labels(app.session.app_client()))["clip"] == {("runner", 1.0)}
