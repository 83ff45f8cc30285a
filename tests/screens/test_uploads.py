"""The Uploads area, driven by keys against the embedded backend: a folder with a broken
file, URLs, resume after a restart, pause and cancel; a snapshot at 80x24."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import DataTable, TextArea

from api.client import ClarifaiClient
from screens.uploads import MarkingTree, UploadsScreen, load_queue, queue_path
from tests.tui_helpers import connected, make_tui, png_bytes, wait_until
from tui.connect import connect, state_dir

APP = "park"


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_TUI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(UploadsScreen, "POLL_INTERVAL", 0.05)


def make_folder(tmp_path: Path, good: int, *, broken: bool = False) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(good):
        (folder / f"img-{i:02d}.png").write_bytes(png_bytes((i * 9 % 256, 100, 50)))
    if broken:
        (folder / "broken.png").write_bytes(b"this is not an image at all")
    (folder / "notes.txt").write_text("not an image extension: not listed, not uploaded")
    return folder


async def create_app(tmp_path: Path) -> None:
    from tests.tui_helpers import local_config

    connection = await connect(local_config(tmp_path).profile(), owner="test-setup")
    try:
        await connection.client.create_app(APP)
    finally:
        await connection.aclose()


async def open_uploads(pilot: Pilot[Any]) -> UploadsScreen:
    await connected(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, UploadsScreen)
    tree = screen.query_one(MarkingTree)
    await wait_until(pilot, lambda: tree.root.children, what="folder listing")
    return screen


def states(screen: UploadsScreen) -> dict[str, str]:
    table = screen.query_one("#uploads-queue", DataTable)
    return {str(table.get_cell(k, "item")): screen.states[str(k.value)] for k in table.rows}


def detail(screen: UploadsScreen, name: str) -> str:
    table = screen.query_one("#uploads-queue", DataTable)
    for key in table.rows:
        if str(table.get_cell(key, "item")) == name:
            return str(table.get_cell(key, "detail"))
    raise KeyError(name)


def settled(screen: UploadsScreen) -> bool:
    return not screen.running and all(
        s in ("done", "failed", "cancelled") for s in screen.states.values()
    )


async def test_folder_with_a_broken_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_folder(tmp_path, 4, broken=True)
    monkeypatch.setattr(UploadsScreen, "START_DIR", folder)
    await create_app(tmp_path)
    app = make_tui(tmp_path, app_id=APP, area="uploads")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_uploads(pilot)
        # concepts for the batch, by keys
        await pilot.press("c", "home", "ctrl+k", *"walker", "enter")
        assert screen.concepts == ("walker",)
        # the cursor is on the folder itself: mark it and add it
        await pilot.press("space")
        assert Path(folder) in screen.query_one(MarkingTree).marked
        await pilot.press("a")
        await wait_until(pilot, lambda: settled(screen) and screen.states, what="settled")
        assert states(screen) == {
            "broken.png": "failed",
            **{f"img-{i:02d}.png": "done" for i in range(4)},
        }
        reason = detail(screen, "broken.png").lower()
        assert "not a supported image" in reason, reason
        counts = str(screen.query_one("#uploads-counts").render())
        assert "5/5" in counts and "1 failed" in counts
        client = app.session.app_client()
        inputs = list(await client.list_inputs(per_page=50))
        assert len(inputs) == 4  # the broken one was never sent (issue #26)
        labelled = [i for i in inputs if [c.id for c in i.concepts] == ["walker"]]
        assert len(labelled) == 4
        # nothing left in the saved queue
        assert not load_queue(queue_path(state_dir(app.profile), client))
        assert "broken.png" in str(screen.query_one("#uploads-detail").render())

        # a second batch: the first one's failure no longer stands under the table
        extra = folder / "img-extra.png"
        extra.write_bytes(png_bytes((3, 200, 7)))
        screen.query_one(MarkingTree).marked[extra] = None
        await pilot.press("a")
        await wait_until(pilot, lambda: settled(screen) and "img-extra.png" in states(screen))
        assert "broken.png" not in str(screen.query_one("#uploads-detail").render())


async def test_urls_are_pasted_one_a_line(tmp_path: Path) -> None:
    await create_app(tmp_path)
    app = make_tui(tmp_path, app_id=APP, area="uploads")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_uploads(pilot)
        await pilot.press("u")
        area = pilot.app.screen.query_one(TextArea)
        # a terminal paste arrives as one Paste event (bracketed paste)
        area.post_message(events.Paste("http://127.0.0.1:9/a.png\nftp://example/b.png\n"))
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: settled(screen) and len(screen.states) == 2, what="urls")
        assert set(states(screen).values()) == {"failed"}
        assert "not an http(s) URL" in detail(screen, "ftp://example/b.png")
        assert detail(screen, "http://127.0.0.1:9/a.png")  # refused, with a reason


class SlowServer:
    """Lets the first `free` PostInputs calls through; later ones are sent, then their answer
    waits for `release` (a slow or stalled server), so a test can act mid-upload."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, free: int = 1) -> None:
        self.calls = 0
        self.free = free
        self.release = asyncio.Event()
        original = ClarifaiClient.post_inputs_batch

        async def post(client: ClarifaiClient, batch: Any, **options: Any) -> Any:
            self.calls += 1
            result = await original(client, batch, **options)
            if self.calls > self.free:
                await self.release.wait()
            return result

        monkeypatch.setattr(ClarifaiClient, "post_inputs_batch", post)


async def test_quit_mid_upload_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_folder(tmp_path, 24)
    monkeypatch.setattr(UploadsScreen, "START_DIR", folder)
    monkeypatch.setattr(UploadsScreen, "BATCH_SIZE", 4)
    monkeypatch.setattr(UploadsScreen, "CONCURRENCY", 1)
    await create_app(tmp_path)
    server = SlowServer(monkeypatch)
    app = make_tui(tmp_path, app_id=APP, area="uploads")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_uploads(pilot)
        await pilot.press("a")  # the highlighted entry: the folder
        await wait_until(pilot, lambda: server.calls == 2, what="second batch sent")
        await pilot.pause()
        assert list(screen.states.values()).count("uploading") == 4
        assert list(screen.states.values()).count("queued") == 16
        await pilot.press("ctrl+q")  # quit in the middle: 4 sent, 4 sent unanswered, 16 left
    server.release.set()
    # start again: the queue resumes by itself and nothing is sent twice
    app = make_tui(tmp_path, app_id=APP, area="uploads")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_uploads(pilot)
        await wait_until(pilot, lambda: screen.states and settled(screen), what="resumed run")
        assert set(screen.states.values()) == {"done"} and len(screen.states) == 24
        client = app.session.app_client()
        inputs = list(await client.list_inputs(per_page=100))
        assert len(inputs) == 24 and len({i.id for i in inputs}) == 24
        summary = screen.last_summary
        assert summary is not None and not summary.failed
        assert len(summary.uploaded) == 24  # the unanswered batch counts as ours


async def test_pause_resume_and_cancel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_folder(tmp_path, 12)
    monkeypatch.setattr(UploadsScreen, "START_DIR", folder)
    monkeypatch.setattr(UploadsScreen, "BATCH_SIZE", 2)
    monkeypatch.setattr(UploadsScreen, "CONCURRENCY", 1)
    await create_app(tmp_path)
    server = SlowServer(monkeypatch)
    app = make_tui(tmp_path, app_id=APP, area="uploads")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_uploads(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: server.calls == 2, what="second batch sent")
        await pilot.press("p")
        assert screen.controller is not None and screen.controller.paused
        server.free = 3
        server.release.set()  # the batches in flight finish; then nothing more is sent
        await wait_until(
            pilot, lambda: screen.progress is not None and screen.progress.paused, what="paused"
        )
        await pilot.pause(0.3)  # a batch already past the engine's gate may still go
        sent = server.calls
        assert sent <= 3
        await pilot.pause(0.3)  # while paused, nothing more is sent
        assert server.calls == sent
        assert "PAUSED" in str(screen.query_one("#uploads-counts").render())
        server.release.clear()
        server.free = sent + 1
        await pilot.press("p")  # resume: one more batch goes, then the server stalls
        await wait_until(pilot, lambda: server.calls == sent + 2, what="resumed")
        await pilot.press("x")
        server.release.set()
        await wait_until(pilot, lambda: not screen.running, what="cancel")
        values = list(screen.states.values())
        assert "queued" not in values and "uploading" not in values
        not_sent = [k for k, v in screen.reasons.items() if v == "not sent"]
        assert len(not_sent) == 12 - 2 * (sent + 2)
        assert all(screen.states[k] == "cancelled" for k in not_sent)
        assert not screen.batches
        client = app.session.app_client()
        assert not load_queue(queue_path(state_dir(app.profile), client))
        assert len(await client.list_inputs(per_page=50)) == 2 * (sent + 2)


def test_uploads_snapshot(
    tmp_path: Path, snap_compare: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_folder(tmp_path, 3, broken=True)
    (folder / "more").mkdir()
    monkeypatch.setattr(UploadsScreen, "START_DIR", folder)
    asyncio.run(create_app(tmp_path))
    app = make_tui(tmp_path, app_id=APP, area="uploads")

    async def ready(pilot: Pilot[Any]) -> None:
        screen = await open_uploads(pilot)
        await pilot.press("down", "down", "space", "space")
        await pilot.press("home", "a")
        await wait_until(pilot, lambda: settled(screen) and screen.states, what="settled")
        await pilot.press("up", "space")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


@pytest.mark.parametrize("create", [True, False])
async def test_an_upload_into_a_missing_app_offers_to_create_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, create: bool
) -> None:
    # As `clarifai-tui upload --create-app`: the area asks before sending anything.
    from tui.widgets.forms import ConfirmScreen

    folder = make_folder(tmp_path, 2)
    monkeypatch.setattr(UploadsScreen, "START_DIR", folder)
    app = make_tui(tmp_path, app_id="brand-new", area="uploads")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_uploads(pilot)
        await pilot.press("a")  # the highlighted entry: the folder
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="question")
        message = str(app.screen.query_one("#confirm-message").render())
        assert "base workflow Universal" in message and "sends nothing" in message
        await pilot.press("y" if create else "n")
        await wait_until(pilot, lambda: not screen.running, what="the run")
        client = app.session.client
        assert client is not None
        apps = [a.id for a in await client.list_apps()]
        if create:
            await wait_until(pilot, lambda: settled(screen) and screen.states, what="settled")
            assert "brand-new" in apps
            assert set(screen.states.values()) == {"done"}
            inputs = await client.with_app("brand-new").list_inputs()
            assert len(inputs) == 2
        else:
            assert "brand-new" not in apps
            assert "nothing sent" in str(screen.query_one("#uploads-status").render())
            assert screen.batches  # the queue is kept


async def test_the_area_shows_and_uploads_videos_beside_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #27: the browser lists video files; a good one is sent as a video and processed,
    a cut-short one is reported with its reason and never sent."""
    from tests.video_files import tiny_video

    folder = make_folder(tmp_path, 1)
    clip = tiny_video(10)
    (folder / "clip.mp4").write_bytes(clip)
    (folder / "cut.mp4").write_bytes(clip[: len(clip) // 3])
    monkeypatch.setattr(UploadsScreen, "START_DIR", folder)
    await create_app(tmp_path)
    app = make_tui(tmp_path, app_id=APP, area="uploads")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_uploads(pilot)
        tree = screen.query_one(MarkingTree)
        tree.root.expand()
        await wait_until(
            pilot,
            lambda: {"clip.mp4", "cut.mp4"} <= {str(n.label) for n in tree.root.children},
            what="videos listed",
        )
        await pilot.press("space", "a")
        await wait_until(pilot, lambda: settled(screen) and screen.states, what="settled")
        assert states(screen) == {
            "img-00.png": "done",
            "video clip.mp4": "done",
            "video cut.mp4": "failed",
        }
        assert "cut short or broken" in detail(screen, "video cut.mp4")
        client = app.session.app_client()
        videos = [i for i in await client.list_inputs(per_page=50) if i.is_video]
        assert [v.metadata.get("filename") for v in videos] == ["clip.mp4"]
