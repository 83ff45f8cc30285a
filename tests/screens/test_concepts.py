"""The Concepts area by keys: the five park concepts from one line, create with a suggested
id, rename, counts, delete (the concept leaves every annotation); a snapshot at 80x24."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual import events
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from api.models import Annotation, Concept, NewAnnotation, NewInput
from screens.concepts import ConceptsScreen
from tests.tui_helpers import connected, local_config, make_tui, png_bytes, wait_until
from tui.connect import connect

APP = "park"
PARK = ("walker", "runner", "bike_rider", "rollerblader", "stroller")


async def seed(tmp_path: Path, *, labelled: bool = False) -> None:
    connection = await connect(local_config(tmp_path).profile(), owner="test-setup")
    try:
        await connection.client.create_app(APP)
        if labelled:
            client = connection.client.with_app(APP)
            await client.create_concepts([Concept(c, name=c) for c in PARK[:3]])
            await client.post_inputs(
                [NewInput(data=png_bytes((i * 30, 10, 10)), id=f"in-{i}") for i in range(4)]
            )
            labels = [
                NewAnnotation("in-0", (Concept("walker"),), id="a0"),
                NewAnnotation("in-1", (Concept("walker"), Concept("runner")), id="a1"),
                NewAnnotation("in-2", (Concept("runner", value=0.0),), id="a2"),
                NewAnnotation("in-3", (Concept("bike_rider"),), id="a3"),
            ]
            results = await client.post_annotations(labels)
            assert all(r.ok for r in results)
    finally:
        await connection.aclose()


async def open_concepts(pilot: Pilot[Any]) -> ConceptsScreen:
    await connected(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ConceptsScreen)
    await loaded(pilot, screen)
    return screen


async def loaded(pilot: Pilot[Any], screen: ConceptsScreen) -> None:
    await wait_until(pilot, lambda: not screen.busy, what="concepts loaded")
    await pilot.pause()


def rows(screen: ConceptsScreen) -> list[tuple[str, ...]]:
    table = screen.query_one(DataTable)
    return [tuple(str(c) for c in table.get_row(key)) for key in table.rows]


async def test_five_park_concepts_from_one_line(tmp_path: Path) -> None:
    await seed(tmp_path)
    app = make_tui(tmp_path, app_id=APP, area="concepts")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_concepts(pilot)
        assert rows(screen) == []
        await pilot.press("b")
        line = "walker, runner, bike_rider, rollerblader, stroller"
        pilot.app.screen.query_one(Input).post_message(events.Paste(line))  # a terminal paste
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(screen.concepts) == 5, what="created")
        await loaded(pilot, screen)
        assert [r[0] for r in rows(screen)] == list(PARK)
        assert all(r[2] == "0" for r in rows(screen))
        server = await app.session.app_client().list_concepts()
        assert sorted(c.id for c in server) == sorted(PARK)
        # again, with one more: only the new one is created
        await pilot.press("b")
        await pilot.press(*"walker, Skate Boarder", "enter")
        await wait_until(pilot, lambda: len(screen.concepts) == 6, what="created again")
        assert screen.concepts[-1] == Concept("skate_boarder", name="Skate Boarder")


async def test_create_rename_and_counts(tmp_path: Path) -> None:
    await seed(tmp_path, labelled=True)
    app = make_tui(tmp_path, app_id=APP, area="concepts")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_concepts(pilot)
        counts = {r[0]: (r[2], r[3]) for r in rows(screen)}
        # walker on in-0 and in-1; runner only positive on in-1 (in-2 is a negative)
        assert counts == {"walker": ("2", "0"), "runner": ("1", "0"), "bike_rider": ("1", "0")}
        # new concept: the id is suggested from the name
        await pilot.press("n")
        await pilot.press(*"Dog Walker")
        assert pilot.app.screen.query_one("#concept-id").value == "dog_walker"  # type: ignore[attr-defined]
        await pilot.press("enter", "enter")
        await wait_until(pilot, lambda: len(screen.concepts) == 4, what="created")
        assert screen.concepts[-1] == Concept("dog_walker", name="Dog Walker")
        # rename the highlighted concept (the first: walker)
        await loaded(pilot, screen)
        await pilot.press("home", "e", "home", "ctrl+k")
        await pilot.press(*"Pedestrian", "enter")
        await wait_until(
            pilot,
            lambda: screen.concepts[0].name == "Pedestrian" and not screen.busy,
            what="renamed",
        )
        concept = await app.session.app_client().get_concept("walker")
        assert concept.name == "Pedestrian"


async def test_delete_removes_the_concept_from_every_annotation(tmp_path: Path) -> None:
    await seed(tmp_path, labelled=True)
    app = make_tui(tmp_path, app_id=APP, area="concepts")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_concepts(pilot)
        await pilot.press("home", "d")
        message = str(pilot.app.screen.query_one("#confirm-message").render())
        assert "cannot delete concepts" in message and "walker" in message
        await pilot.press("y")
        await wait_until(
            pilot, lambda: not screen.busy and rows(screen)[0][2] == "0", what="deleted"
        )
        client = app.session.app_client()
        annotations: dict[str, Annotation] = {
            a.id: a for a in await client.list_annotations(list_all_annotations=True)
        }
        assert "a0" not in annotations  # walker was its only concept
        assert [c.id for c in annotations["a1"].concepts] == ["runner"]
        assert "a3" in annotations
        assert "walker" in {c.id for c in await client.list_concepts()}


async def test_the_table_keeps_its_focus_and_stays_shown_while_concepts_load(
    tmp_path: Path, monkeypatch: Any
) -> None:
    # The screen once kept its busy flag in `loading`, which is Textual's Widget.loading: the
    # whole screen was covered by a LoadingIndicator, its table left the layout (Hide) and so
    # lost its focus whenever a layout pass fell inside the load. That is what made the
    # snapshot test time out "waiting for the table focused" at random under load.
    import screens.concepts

    release = asyncio.Event()
    real = screens.concepts.app_concepts

    async def held(client: Any) -> list[Concept]:
        await release.wait()
        return await real(client)

    monkeypatch.setattr(screens.concepts, "app_concepts", held)
    await seed(tmp_path, labelled=True)
    app = make_tui(tmp_path, app_id=APP, area="concepts")
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, ConceptsScreen)
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: screen.busy and table.has_focus, what="load started")
        await pilot.pause(0.2)  # layout passes happen while the load is held
        assert not screen.loading  # Textual's own flag: no cover over the screen
        assert table.has_focus and table.display
        assert "loading concepts" in str(screen.query_one("#concepts-status").render())
        release.set()
        await loaded(pilot, screen)
        assert table.has_focus


def test_concepts_snapshot(tmp_path: Path, snap_compare: Any) -> None:
    asyncio.run(seed(tmp_path, labelled=True))
    app = make_tui(tmp_path, app_id=APP, area="concepts")

    async def ready(pilot: Pilot[Any]) -> None:
        screen = await open_concepts(pilot)
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.has_focus, what="the table focused")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


async def test_labels_of_inputs_that_failed_to_process_are_not_counted(tmp_path: Path) -> None:
    # A broken file uploaded with a concept fails to process (30002) but keeps its label: it
    # was counted as labelled, so Concepts said 5 labelled after 3 good uploads.
    from screens.concepts import count_labels

    connection = await connect(local_config(tmp_path).profile(), owner="test-setup")
    try:
        await connection.client.create_app(APP)
        client = connection.client.with_app(APP)
        walker = (Concept("walker", name="walker"),)
        results = await client.post_inputs(
            [
                NewInput(data=png_bytes((10, 20, 30)), id="good", concepts=walker),
                NewInput(data=b"not an image at all", id="broken", concepts=walker),
            ]
        )
        assert all(r.ok for r in results)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not (await client.get_input_count()).settled:
            assert loop.time() < deadline, "inputs not processed"
            await asyncio.sleep(0.02)
        assert (await client.get_input("broken")).status_code == 30002
        people, models, capped = await count_labels(client)
        assert people == {"walker": 1} and models == {} and not capped
    finally:
        await connection.aclose()
