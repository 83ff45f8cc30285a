"""Video inputs on the screens (issue #27): the Explorer's rows, the detail screen's frame
list and frame preview, and frame annotations in the review queue.

The embedded backend does not take videos on this branch yet: tests/screens/video_fakes.py
stores a real mp4 and reads it back as a video input with frame annotations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from api.models import AnnotationStatus, FrameInfo
from api.video import VideoRejected, frame_at
from screens.explorer import ExplorerScreen
from screens.input_detail import InputDetailScreen
from tests.screens import video_fakes
from tests.screens.test_explorer import APP, open_explorer
from tests.screens.test_review import open_review, settled, statuses
from tests.screens.video_fakes import seed_video
from tests.tui_helpers import make_tui, wait_until
from tui.widgets.preview import ImagePreview

PENDING, SUCCESS = AnnotationStatus.PENDING, AnnotationStatus.SUCCESS


def cell(table: DataTable[Any], row: str, column: str) -> str:
    return str(table.get_cell(row, column))


async def test_explorer_row_says_video_length_and_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video_fakes.install(monkeypatch)
    await seed_video(tmp_path, images=2)
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        assert isinstance(screen, ExplorerScreen)
        table = screen.query_one("#explorer-table", DataTable)
        assert [str(k.value) for k in table.rows] == ["vid-1", "img-1", "img-0"]
        assert cell(table, "vid-1", "id") == "clip.mp4\nvideo"
        # 4 s sampled every 1000 ms (the app's default): 4 frames; the second line of the
        # concepts column, which fits at 80 columns
        assert cell(table, "vid-1", "concepts").split("\n") == [
            "red:0.91 green:0.82 yellow:0.77",
            "4.0 s · 4 frames",
        ]
        # the frame annotations count like others: one SUCCESS, two PENDING
        assert cell(table, "vid-1", str(int(SUCCESS))) == "1"
        assert cell(table, "vid-1", str(int(PENDING))) == "2"
        assert table.rows["vid-1"].height == 2
        # an image row is unchanged: one line
        assert cell(table, "img-1", "id") == "img-1"
        text = "\n".join(
            "".join(s.text for s in strip) for strip in (table.render_line(y) for y in range(4))
        )
        assert "4.0 s · 4 frames" in text
        assert screen.data is not None and screen.data.rows[0].annotated_frames == 3


async def open_video_detail(pilot: Pilot[Any]) -> InputDetailScreen:
    screen = await open_explorer(pilot)
    assert screen._cursor_id() == "vid-1"
    await pilot.press("enter")
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, InputDetailScreen))
    detail = app.screen
    assert isinstance(detail, InputDetailScreen)
    return detail


def preview_colour(preview: ImagePreview) -> tuple[int, int, int]:
    """The colour of the middle of the frame the preview shows."""
    image = preview._image
    assert image is not None
    pixel = image.getpixel((image.width // 2, image.height // 2))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def near(colour: tuple[int, int, int], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 24 for a, b in zip(colour, expected, strict=True))


async def shows_frame(pilot: Pilot[Any], detail: InputDetailScreen, label: str) -> None:
    preview = detail.query_one(ImagePreview)
    await wait_until(
        pilot,
        lambda: preview.label == label and preview._image is not None and preview._decoded,
        what=f"preview of {label}",
    )


async def test_detail_lists_frames_and_left_right_choose_the_previewed_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video_fakes.install(monkeypatch)
    await seed_video(tmp_path)
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await open_video_detail(pilot)
        await wait_until(pilot, lambda: detail.video is not None, what="video fetched")
        table = detail.query_one("#detail-annotations", DataTable)
        # every sampled frame, with its time; frame 2 (at 0:02.0) has no annotation
        assert [str(k.value) for k in table.rows] == ["fa-0", "fa-1", "frame-2", "fa-3"]
        assert [str(c.label) for c in table.columns.values()] == [
            "time",
            "status",
            "concepts",
            "by",
        ]
        assert [cell(table, k, "time") for k in ("fa-0", "fa-1", "frame-2", "fa-3")] == [
            "0:00.0",
            "0:01.0",
            "0:02.0",
            "0:03.0",
        ]
        assert cell(table, "fa-1", "status") == "PENDING"
        assert cell(table, "fa-1", "concepts") == "green 0.82, leaf 0.40"
        assert cell(table, "fa-1", "by").startswith("model version mv-write")
        assert cell(table, "frame-2", "concepts") == "-"
        meta = str(detail.query_one("#detail-meta").render())
        assert "video   4.0 s · 4 frames, 1 every 1 s · 32x32 · 10 fps · mp4/mpeg4" in meta
        preview = detail.query_one(ImagePreview)
        await shows_frame(pilot, detail, "frame 1 of 4 at 0:00.0")
        assert near(preview_colour(preview), video_fakes.COLOURS[0])
        await pilot.press("right")
        await shows_frame(pilot, detail, "frame 2 of 4 at 0:01.0")
        assert near(preview_colour(preview), video_fakes.COLOURS[1])
        assert detail.highlighted is not None and detail.highlighted.id == "fa-1"
        await pilot.press("right")
        await shows_frame(pilot, detail, "frame 3 of 4 at 0:02.0")
        assert near(preview_colour(preview), video_fakes.COLOURS[2])
        assert detail.highlighted is None  # no annotation on that frame
        assert "no annotation" in str(detail.query_one("#detail-annotation").render())
        await pilot.press("l", "right")  # past the end: stays on the last
        await shows_frame(pilot, detail, "frame 4 of 4 at 0:03.0")
        assert near(preview_colour(preview), video_fakes.COLOURS[3])
        await pilot.press("left")
        await shows_frame(pilot, detail, "frame 3 of 4 at 0:02.0")
        # moving the cursor onto a frame's row chooses it too
        await pilot.press("up", "up")
        await shows_frame(pilot, detail, "frame 1 of 4 at 0:00.0")
        assert near(preview_colour(preview), video_fakes.COLOURS[0])
        assert detail.video is not None and detail.video.data == video_fakes.video_bytes()
        await pilot.press("o")
        assert app.clipboard.endswith("/inputs/vid-1/blob")
        assert "video URL" in str(detail.query_one("#detail-message").render())


async def test_detail_of_a_video_not_processed_yet_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video_fakes.install(monkeypatch)
    await seed_video(tmp_path, processed=False, frames=())
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        table = screen.query_one("#explorer-table", DataTable)
        assert cell(table, "vid-1", "concepts").split("\n") == ["", "not sampled yet"]
        assert cell(table, "vid-1", "status") == "pending"
        detail = await open_video_detail(pilot)
        await shows_frame(pilot, detail, "frame 1 at 0:00.0 · not processed yet")
        meta = str(detail.query_one("#detail-meta").render())
        assert "not processed yet" in meta
        await pilot.press("right")
        await pilot.pause()
        assert "not processed" in str(detail.query_one("#detail-message").render())


async def test_review_shows_the_frame_and_keeps_changed_concepts_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = video_fakes.install(monkeypatch)
    await seed_video(tmp_path)
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_review(pilot)
        preview = screen.query_one(ImagePreview)
        current = screen.current
        assert current is not None and current.id == "fa-1"  # the oldest PENDING first
        meta = str(screen.query_one("#review-meta").render())
        assert "frame 2 at 0:01.0" in meta
        await wait_until(
            pilot,
            lambda: preview.label == "frame 2 at 0:01.0" and preview._image is not None,
            what="frame preview",
        )
        assert near(preview_colour(preview), video_fakes.COLOURS[1])
        fetched = screen.video
        await pilot.press("j", "space", "a")  # drop leaf, accept green
        await settled(pilot, screen, current)
        accepted = [u for u in sent if u.id == "fa-1" and u.status_code == SUCCESS]
        assert len(accepted) == 1
        assert accepted[0].frame == FrameInfo(1, 1000)
        assert [c.id for c in accepted[0].concepts or ()] == ["green"]
        # the next: frame 4, the same video (fetched once), rejected
        current = screen.current
        assert current is not None and current.id == "fa-3"
        await wait_until(
            pilot,
            lambda: preview.label == "frame 4 at 0:03.0" and preview._decoded,
            what="next frame preview",
        )
        assert near(preview_colour(preview), video_fakes.COLOURS[3])
        assert screen.video is fetched is not None
        await pilot.press("r")
        await settled(pilot, screen, current)
        assert screen.current is None
        # undo puts the frame's concepts back inside its frame
        await pilot.press("u")
        await wait_until(pilot, lambda: screen.current is not None and not screen.busy)
        undone = sent[-1]
        assert undone.id == "fa-3" and undone.status_code == PENDING
        assert undone.frame == FrameInfo(3, 3000)
        client = app.session.app_client()
        assert (await statuses(client))["fa-1"] == SUCCESS


async def test_a_video_that_cannot_be_decoded_says_why_instead_of_a_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video_fakes.install(monkeypatch)
    await seed_video(tmp_path, data=b"not a video at all")
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        detail = await open_video_detail(pilot)
        preview = detail.query_one(ImagePreview)
        await wait_until(
            pilot, lambda: preview.label.startswith("no preview: "), what="decode failure"
        )
        with pytest.raises(VideoRejected) as caught:
            frame_at(b"not a video at all", 0)
        assert preview.label == f"no preview: {caught.value.description}"
        table = detail.query_one("#detail-annotations", DataTable)
        assert table.row_count == 4  # the frames are still listed


def test_cells_of_tall_rows_keep_their_lines_and_each_is_sanitised() -> None:
    from rich.text import Text

    from tui.widgets.tables import safe_cell

    assert safe_cell("clip\x1b[2J\nvideo", lines=True) == "clip\\x1b[2J\nvideo"
    assert safe_cell("clip\x1b\nvideo") == "clip\\x1b video"  # a one-line row: one line
    cell = safe_cell(Text("a\u202eb\n4.0 s", no_wrap=True), lines=True)
    assert isinstance(cell, Text) and cell.plain == "a\\u202eb\n4.0 s" and cell.no_wrap


async def test_a_video_the_embedded_backend_processed(tmp_path: Path) -> None:
    """No fakes: the embedded backend takes the video, samples it and serves it back."""
    from api.models import NewInput
    from tests.screens.test_explorer import backend_client

    async with backend_client(tmp_path) as (backend, client):
        await client.create_app(APP)
        await client.post_inputs(
            [
                NewInput(
                    data=video_fakes.video_bytes(),
                    id="vid-1",
                    video=True,
                    metadata={"filename": "clip.mp4"},
                )
            ]
        )
        await backend.wait_idle()
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        table = screen.query_one("#explorer-table", DataTable)
        assert cell(table, "vid-1", "id") == "clip.mp4\nvideo"
        assert cell(table, "vid-1", "concepts").split("\n")[1] == "4.0 s · 4 frames"
        detail = await open_video_detail(pilot)
        preview = detail.query_one(ImagePreview)
        await shows_frame(pilot, detail, "frame 1 of 4 at 0:00.0")
        assert near(preview_colour(preview), video_fakes.COLOURS[0])
        await pilot.press("right", "right")
        await shows_frame(pilot, detail, "frame 3 of 4 at 0:02.0")
        assert near(preview_colour(preview), video_fakes.COLOURS[2])
