"""Explorer area and input detail, driven by keys against the embedded backend."""

from __future__ import annotations

import asyncio
import gc
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

import screens.explorer as explorer_module
from api.client import ClarifaiClient
from api.local.backend import LocalBackend
from api.local.rows import ConceptValue
from api.local.rows import NewAnnotation as StoredAnnotation
from api.models import AnnotationStatus, Concept, InputStatus, NewAnnotation, NewInput
from screens.explorer import ExplorerScreen
from screens.input_detail import InputDetailScreen
from tests.tui_helpers import connected, make_tui, png_bytes, wait_until
from tui.app import ClarifaiTUI
from tui.config import load_config

APP = "demo"
PENDING, SUCCESS = AnnotationStatus.PENDING, AnnotationStatus.SUCCESS


@asynccontextmanager
async def backend_client(tmp_path: Path) -> Any:
    backend = LocalBackend(tmp_path / "data", owner="test")
    await backend.start()
    client = ClarifaiClient(
        base_url="http://embedded",
        api_key=backend.api_key,
        user_id="me",
        app_id=APP,
        transport=httpx.ASGITransport(app=backend.app),
    )
    try:
        yield backend, client
    finally:
        await client.aclose()
        await backend.stop()


async def seed(tmp_path: Path, count: int = 60, *, broken: int = 0) -> None:
    """`count` inputs in-000.. (in-000 oldest); annotation an-NNN on each: SUCCESS on even
    inputs, PENDING on odd ones, concept cat everywhere, dog on every fifth; model-written
    annotations (model version mv-1) on in-000..in-002; `broken` inputs that fail to decode."""
    async with backend_client(tmp_path) as (backend, client):
        await client.create_app(APP)
        colours = [png_bytes((i * 4 % 256, 60, 90)) for i in range(count)]
        await client.post_inputs(
            [NewInput(data=colours[i], id=f"in-{i:03d}") for i in range(count)]
        )
        if broken:
            await client.post_inputs(
                [NewInput(data=b"not an image %d" % i, id=f"bad-{i}") for i in range(broken)]
            )
        await backend.wait_idle()
        await client.post_annotations(
            [
                NewAnnotation(
                    f"in-{i:03d}",
                    (Concept("cat", "cat", 0.5 + i / 200),)
                    + ((Concept("dog", "dog", 0.3),) if i % 5 == 0 else ()),
                    status_code=PENDING if i % 2 else SUCCESS,
                    id=f"an-{i:03d}",
                )
                for i in range(count)
            ]
        )
        app = backend.store.get_app(backend.user_id, APP)
        assert app is not None
        backend.store.add_annotations(
            app.pk,
            [
                StoredAnnotation(
                    id=f"model-{i}",
                    input_id=f"in-{i:03d}",
                    user_id=backend.user_id,
                    concepts=[ConceptValue("bird", "bird", 0.61)],
                    model_version_id="mv-1",
                )
                for i in range(3)
            ],
        )


async def open_explorer(pilot: Pilot[Any]) -> ExplorerScreen:
    await connected(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ExplorerScreen)
    await loaded(pilot, screen)
    return screen


async def loaded(pilot: Pilot[Any], screen: ExplorerScreen) -> None:
    await wait_until(
        pilot,
        lambda: screen.data is not None and not screen._loading and screen.pager is not None,
        what="explorer page",
    )
    await pilot.pause()


def ids(screen: ExplorerScreen) -> list[str]:
    table = screen.query_one("#explorer-table", DataTable)
    return [str(key.value) for key in table.rows]


def status_line(screen: ExplorerScreen) -> str:
    return str(screen.query_one("#explorer-status").render())


async def prompt(pilot: Pilot[Any], key: str, text: str) -> None:
    await pilot.press(key)
    await pilot.press(*text, "enter")


async def filtered(pilot: Pilot[Any], screen: ExplorerScreen, old: object) -> None:
    await wait_until(pilot, lambda: screen.data is not old and not screen._loading, what="reload")
    await pilot.pause()


async def test_pages_from_the_server(tmp_path: Path) -> None:
    await seed(tmp_path, 40)
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    assert app.session.per_page == 30  # the config's ui.per_page (tests.tui_helpers)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        assert ids(screen)[:2] == ["in-039", "in-038"] and len(ids(screen)) == 30
        first = screen.data
        assert first is not None and first.rows[0].count(PENDING) == 1
        assert "total 40" in status_line(screen) and "page 1" in status_line(screen)
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: screen.page_number == 2, what="page 2")
        assert ids(screen) == [f"in-{i:03d}" for i in range(9, -1, -1)]
        # in-000 has its own annotation and the model's
        row0 = next(r for r in screen.data.rows if r.id == "in-000")  # type: ignore[union-attr]
        assert row0.count(SUCCESS) == 2 and "bird:0.61" in row0.top_concepts()
        await pilot.press("pageup")
        await wait_until(pilot, lambda: screen.page_number == 1, what="page 1")
        assert ids(screen)[0] == "in-039"
        await prompt(pilot, "g", "2")
        await wait_until(pilot, lambda: screen.page_number == 2, what="go to page 2")
        # oldest first
        old = screen.data
        await pilot.press("o")
        await filtered(pilot, screen, old)
        assert ids(screen)[:3] == ["in-000", "in-001", "in-002"]
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: screen.page_number == 2, what="oldest page 2")
        assert ids(screen) == [f"in-{i:03d}" for i in range(30, 40)]


async def test_status_filters(tmp_path: Path) -> None:
    await seed(tmp_path, 20, broken=2)
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        assert len(ids(screen)) == 22
        # annotation status: SUCCESS, then PENDING
        old = screen.data
        await pilot.press("a")
        await filtered(pilot, screen, old)
        assert set(ids(screen)) == {f"in-{i:03d}" for i in range(0, 20, 2)} | {"in-001"} | {
            "in-002"
        }
        assert "ann=SUCCESS" in status_line(screen)
        old = screen.data
        await pilot.press("a")
        await filtered(pilot, screen, old)
        assert set(ids(screen)) == {f"in-{i:03d}" for i in range(1, 20, 2)}
        assert "filtered 10" in status_line(screen)
        # input status on top of it: processed
        old = screen.data
        await pilot.press("i")
        await filtered(pilot, screen, old)
        assert len(ids(screen)) == 10
        old = screen.data
        await pilot.press("x")
        await filtered(pilot, screen, old)
        # input status alone: cycle to FAILED (ok -> pending -> working -> failed)
        for _ in range(4):
            old = screen.data
            await pilot.press("i")
            await filtered(pilot, screen, old)
        assert screen.filters.input_status == InputStatus.FAILED
        assert sorted(ids(screen)) == ["bad-0", "bad-1"]
        assert "filtered 2" in status_line(screen)


async def test_text_concept_and_worker_filters(tmp_path: Path) -> None:
    await seed(tmp_path, 30)
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        old = screen.data
        await prompt(pilot, "slash", "-01")
        await filtered(pilot, screen, old)
        assert ids(screen) == [f"in-{i:03d}" for i in range(19, 9, -1)]
        assert "id~-01" in status_line(screen)
        old = screen.data
        await pilot.press("x")
        await filtered(pilot, screen, old)
        old = screen.data
        await prompt(pilot, "c", "dog")
        await filtered(pilot, screen, old)
        # as the platform's search: without a status, trusted (SUCCESS) labels only
        assert sorted(ids(screen)) == ["in-000", "in-010", "in-020"]
        assert "ann=SUCCESS" in status_line(screen)
        for _ in range(2):  # annotation status: any -> SUCCESS -> PENDING
            old = screen.data
            await pilot.press("a")
            await filtered(pilot, screen, old)
        assert sorted(ids(screen)) == ["in-005", "in-015", "in-025"]
        old = screen.data
        await pilot.press("a", "a", "a")  # back to any status
        await filtered(pilot, screen, old)
        old = screen.data
        await pilot.press("x")
        await filtered(pilot, screen, old)
        old = screen.data
        await prompt(pilot, "w", "model:mv-1")
        await filtered(pilot, screen, old)
        assert sorted(ids(screen)) == ["in-000", "in-001", "in-002"]
        old = screen.data
        await pilot.press("x")
        await filtered(pilot, screen, old)
        old = screen.data
        await prompt(pilot, "w", "somebody-else")
        await filtered(pilot, screen, old)
        assert ids(screen) == []


async def test_jump_to_input_id(tmp_path: Path) -> None:
    await seed(tmp_path)
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        await prompt(pilot, "j", "in-003")
        await wait_until(pilot, lambda: screen.page_number == 2, what="jump")
        await pilot.pause()
        assert screen._cursor_id() == "in-003"
        await prompt(pilot, "j", "in-055")
        await wait_until(pilot, lambda: screen._cursor_id() == "in-055", what="jump back")
        assert screen.page_number == 1


async def test_detail_view_and_copy(tmp_path: Path) -> None:
    await seed(tmp_path, 5)
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        await pilot.press("down", "down", "down", "down")  # in-000: two annotations
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, InputDetailScreen))
        detail = app.screen
        assert isinstance(detail, InputDetailScreen)
        await wait_until(pilot, lambda: detail.image is not None, what="detail loaded")
        assert detail.input_id == "in-000"
        assert {a.id for a in detail.annotations} == {"an-000", "model-0"}
        table = detail.query_one("#detail-annotations", DataTable)
        assert table.row_count == 2
        await pilot.press("c")
        assert app.clipboard == "in-000"
        await pilot.press("y")
        first = app.clipboard
        await pilot.press("down", "y")
        assert {first, app.clipboard} == {"an-000", "model-0"}
        info = str(detail.query_one("#detail-annotation").render())
        assert app.clipboard in info
        await pilot.press("o")
        assert app.clipboard.endswith("/inputs/in-000/blob")
        assert app.clipboard in str(detail.query_one("#detail-message").render())
        await pilot.press("b")
        path = Path(app.clipboard)
        assert path.is_file() and path.is_relative_to(tmp_path / "data")
        assert path.read_bytes() == detail.image
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and screen._cursor_id() == "in-000"


async def test_live_status_refresh_keeps_cursor_and_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ExplorerScreen, "POLL_SECONDS", 0.1)
    await seed(tmp_path, 4)
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        assert app.connection is not None and app.connection.backend is not None
        backend = app.connection.backend
        await backend.ingest.stop()
        client = app.session.app_client()
        await client.post_inputs(
            [NewInput(data=png_bytes((9, 9, i)), id=f"new-{i}") for i in range(3)]
        )
        old = screen.data
        await prompt(pilot, "slash", "new")
        await filtered(pilot, screen, old)
        assert ids(screen) == ["new-2", "new-1", "new-0"]
        table = screen.query_one("#explorer-table", DataTable)
        assert str(table.get_cell("new-1", "status")) == "pending"
        await pilot.press("down")
        assert screen._cursor_id() == "new-1"
        data = screen.data
        await backend.ingest.start()
        backend.ingest.wake()
        await wait_until(
            pilot,
            lambda: all(str(table.get_cell(f"new-{i}", "status")) == "ok" for i in range(3)),
            what="statuses refreshed",
        )
        assert screen._cursor_id() == "new-1"
        assert screen.filters.text == "new" and screen.page_number == 1
        assert screen.data is not None and screen.data.page == data.page  # type: ignore[union-attr]


def test_explorer_snapshot(
    tmp_path: Path, snap_compare: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(seed(tmp_path, 12))
    monkeypatch.setattr(explorer_module, "format_time", lambda _when: "01-02 03:04")
    app = make_tui(tmp_path, app_id=APP, area="explorer")

    async def ready(pilot: Pilot[Any]) -> None:
        await open_explorer(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


async def test_page_swap_holds_the_collector_until_painted_and_prefetched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(tmp_path, 70)
    monkeypatch.setattr(explorer_module, "GC_HOLD_SECONDS", 60)  # no help from the timer
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        await wait_until(pilot, lambda: 2 in screen._cache and gc.isenabled(), what="prefetch")
        during_swap: list[bool] = []
        show = screen._show

        def recording_show(data: explorer_module.PageData) -> None:
            show(data)
            during_swap.append(gc.isenabled())

        monkeypatch.setattr(screen, "_show", recording_show)
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: 3 in screen._cache, what="page 3 pre-fetched")
        await wait_until(pilot, gc.isenabled, what="collector resumed")
        assert during_swap == [False] and not screen._gc_held
        # the last page: nothing to pre-fetch, the collector resumes once it is painted
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: screen.page_number == 3, what="page 3")
        await wait_until(pilot, gc.isenabled, what="collector resumed")
        assert during_swap == [False, False] and ids(screen) == [
            f"in-{i:03d}" for i in range(9, -1, -1)
        ]
        # never held for long, even when the table does not paint
        monkeypatch.setattr(explorer_module, "GC_HOLD_SECONDS", 0.05)
        screen._hold_gc()
        assert not gc.isenabled()
        await wait_until(pilot, gc.isenabled, what="collector resumed by the timer")
        # a collector paused by someone else stays paused
        gc.disable()
        try:
            await pilot.press("pageup")
            await wait_until(pilot, lambda: screen.page_number == 2, what="page 2")
            await wait_until(pilot, lambda: not screen.table._after_paint, what="painted")
            await pilot.pause()
            assert not gc.isenabled() and not screen._gc_held
        finally:
            gc.enable()


async def test_concept_names_are_shown_verbatim(tmp_path: Path) -> None:
    async with backend_client(tmp_path) as (backend, client):
        await client.create_app(APP)
        await client.post_inputs([NewInput(data=png_bytes((1, 2, 3)), id="odd")])
        await backend.wait_idle()
        await client.post_annotations(
            [NewAnnotation("odd", (Concept("odd-1", "[/]", 0.9), Concept("odd-2", "[b]x", 0.8)))]
        )
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        await pilot.pause()
        table = screen.query_one("#explorer-table", DataTable)
        assert str(table.get_cell("odd", "concepts")) == "[/]:0.90 [b]x:0.80"
        first_row = table.render_line(1).text  # line 0 is the header; no MarkupError
        assert "[/]:0.90 [b]x:0." in first_row, first_row


async def test_prompt_shows_what_is_typed_and_w_takes_a_model_name(tmp_path: Path) -> None:
    """Issue #30 item 4: the `/` prompt draws the typed text at 80x24 (Input's focus border
    left a one-row prompt no room for it), and `w` finds a model by its name."""
    await seed(tmp_path, 6)
    async with backend_client(tmp_path) as (backend, client):
        app_client = client.with_app(APP)
        await app_client.create_model(
            "bird-writer", model_type_id="annotation-writer", name="Bird Writer"
        )
        made = await app_client.create_model_version(
            "bird-writer", params={"annotation_status": 24151}
        )
        assert made.version is not None
        stored = backend.store.get_app(backend.user_id, APP)
        assert stored is not None
        backend.store.add_annotations(
            stored.pk,
            [
                StoredAnnotation(
                    id="by-writer",
                    input_id="in-004",
                    user_id=backend.user_id,
                    concepts=[ConceptValue("bird", "bird", 0.9)],
                    model_version_id=made.version.id,
                )
            ],
        )
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        await pilot.press("slash", *"in-0zq")
        await pilot.pause()
        prompt_box = screen.query_one("#explorer-prompt")
        assert prompt_box.region.height == 1
        assert "in-0zq" in app.export_screenshot()
        await pilot.press("escape")

        old = screen.data
        await prompt(pilot, "w", "model:bird writer")
        await filtered(pilot, screen, old)
        assert ids(screen) == ["in-004"]

        # names, not ids (issue #26): the detail says which model wrote it, by name
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, InputDetailScreen))
        detail = app.screen
        assert isinstance(detail, InputDetailScreen)
        table = detail.query_one("#detail-annotations", DataTable)
        await wait_until(pilot, lambda: table.row_count > 0, what="annotations")
        authors = {str(table.get_row_at(r)[2]) for r in range(table.row_count)}
        assert f"model Bird Writer ({made.version.id[:8]})" in authors, authors


async def test_rows_per_page_follow_the_config(tmp_path: Path) -> None:
    """Issue #30 item 8: `ui.per_page` was ignored (always 30 rows)."""
    await seed(tmp_path, 10)
    config_path = tmp_path / "config.toml"
    make_tui(tmp_path, app_id=APP, area="explorer")  # writes the test config
    config_path.write_text(config_path.read_text().replace("per_page = 30", "per_page = 4"))
    config = load_config(config_path)
    app = ClarifaiTUI(config, config.profile(), start_area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        assert ids(screen) == ["in-009", "in-008", "in-007", "in-006"]
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: screen.page_number == 2, what="page 2")
        assert ids(screen) == ["in-005", "in-004", "in-003", "in-002"]


async def test_the_filter_line_stays_on_screen_when_narrow(tmp_path: Path) -> None:
    """Issue #30 item 8: at 60 columns the summary wrapped and pushed the active filter line
    off the two-line status; now the summary is shortened and the filter line is kept."""
    await seed(tmp_path, 40)
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(60, 20)) as pilot:
        screen = await open_explorer(pilot)
        old = screen.data
        await prompt(pilot, "c", "dog")
        await filtered(pilot, screen, old)
        await pilot.pause()
        status = screen.query_one("#explorer-status")
        first, second = (status.render_line(y).text.strip() for y in range(2))
        assert first.startswith("p. 1") and "total 40" in first, first
        assert second.startswith("filters:") and "dog" in second, second


async def test_rows_show_the_file_an_input_came_from_and_slash_finds_it(tmp_path: Path) -> None:
    """Issue #26: an input shows the file it was uploaded from (metadata.filename, as the
    uploader records it) where it has one, else its id; `/` matches the file name too."""
    await seed(tmp_path, 4)
    async with backend_client(tmp_path) as (backend, client):
        app_client = client.with_app(APP)
        await app_client.post_inputs(
            [
                NewInput(
                    data=png_bytes((9, 9, 9)),
                    id="from-file",
                    metadata={"filename": "walker-07.jpg"},
                )
            ]
        )
        await backend.wait_idle()
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        table = screen.query_one("#explorer-table", DataTable)
        assert str(table.get_cell("from-file", "id")) == "walker-07.jpg"
        assert str(table.get_cell("in-000", "id")) == "in-000"
        old = screen.data
        await prompt(pilot, "slash", "walker")
        await filtered(pilot, screen, old)
        assert ids(screen) == ["from-file"]
