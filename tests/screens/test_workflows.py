"""The Workflows area on the embedded backend: the seed graph, editing, dry run, default."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from api.autoannotate import WizardSpec
from api.models import Concept, NewAnnotation, NewInput
from screens.dry_run import DryRunScreen
from screens.workflows import WorkflowsScreen
from tests.screens.labelled_data import APP, CONCEPTS, all_annotations, pick_digits, prepare
from tests.tui_helpers import connected, make_tui, wait_until
from tui.widgets.dry_run_text import NOTHING_WRITTEN
from tui.widgets.forms import ConfirmScreen, PickScreen, PromptScreen
from tui.widgets.graph import GraphView

SPEC = WizardSpec(concepts=CONCEPTS, annotation_user_id="annotator")


async def workflows_screen(pilot: Pilot[Any]) -> WorkflowsScreen:
    await connected(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, WorkflowsScreen)
    await wait_until(pilot, lambda: screen.loaded and screen.graph.lines[0], what="the graph")
    return screen


async def pick(pilot: Pilot[Any], option_id: str) -> None:
    """In an open PickScreen, move to `option_id` and press enter."""
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, PickScreen), what="a picker")
    options = pilot.app.screen.query_one(OptionList)
    ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
    options.highlighted = 0
    await pilot.press(*["down"] * ids.index(option_id), "enter")
    await pilot.pause()


def test_seed_graph_snapshot(tmp_path: Path, snap_compare: Any) -> None:
    asyncio.run(prepare(tmp_path, spec=SPEC))
    app = make_tui(tmp_path, app_id=APP, area="workflows")

    async def loaded(pilot: Pilot[Any]) -> None:
        await workflows_screen(pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=loaded)


async def test_editing_refuses_cycles_and_mismatches_then_saves(tmp_path: Path) -> None:
    await prepare(tmp_path, spec=SPEC)
    app = make_tui(tmp_path, app_id=APP, area="workflows")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await workflows_screen(pilot)
        client = app.session.app_client()
        graph = screen.query_one(GraphView)
        assert graph.selected == "embed"
        await pilot.press("l", "l", "j")  # embed -> classify -> confident -> unsure
        assert graph.selected == "unsure"

        await pilot.press("c")
        await pick(pilot, "unsure-band")
        info = str(screen.query_one("#wf-info").content)
        assert "cycle" in info and "unsure" in info and "unsure-band" in info
        assert not screen.is_dirty("auto-annotate")

        graph.select("write-pending")
        await pilot.press("c")
        await pick(pilot, "embed")
        info = str(screen.query_one("#wf-info").content)
        assert "takes concepts" in info and "gives embeddings" in info
        assert not screen.is_dirty("auto-annotate")

        graph.select("unsure-band")
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"band", "enter")
        await pilot.pause()
        assert screen.is_dirty("auto-annotate") and graph.selected == "band"

        await pilot.press("d")  # delete `band`: write-pending is left without an input
        await pilot.press("s")
        await pilot.pause()
        info = str(screen.query_one("#wf-info").content)
        assert info.startswith("not saved") and "write-pending" in info
        await pilot.press("u")  # undo every edit
        assert not screen.is_dirty("auto-annotate")

        graph.select("unsure-band")
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"band", "enter")
        graph.select("classify")
        await pilot.press("a")
        await pick(pilot, "auto-annotate-write-success")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"audit", "enter")  # typing replaces the suggested id
        await pilot.pause()
        await pilot.press("s")
        await wait_until(pilot, lambda: not screen.is_dirty("auto-annotate"), what="save")
        saved = {n.id: n.node_inputs for n in (await client.get_workflow("auto-annotate")).nodes}
        assert saved["band"] == ("unsure",)
        assert saved["write-pending"] == ("band",)
        assert saved["audit"] == ("classify",)
        assert "unsure-band" not in saved


async def test_dry_run_writes_nothing_and_the_default_needs_a_confirmation(
    tmp_path: Path,
) -> None:
    await prepare(tmp_path, per_concept=8, spec=SPEC, train=True)
    image = tmp_path / "digit.png"
    image.write_bytes(pick_digits(1, skip=30)[0].png)
    app = make_tui(tmp_path, app_id=APP, area="workflows")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await workflows_screen(pilot)
        client = app.session.app_client()
        # one input labelled the way the labelling loop does it: an annotation, no data.concepts
        (posted,) = await client.post_inputs([NewInput(data=image.read_bytes(), id="by-hand")])
        assert posted.ok
        await client.post_annotations([NewAnnotation("by-hand", (Concept("two", value=1.0),))])
        before = await all_annotations(client)

        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, DryRunScreen))
        dry = app.screen
        assert isinstance(dry, DryRunScreen)
        picker = dry.query_one("#dry-inputs")
        await wait_until(pilot, lambda: picker.option_count > 0, what="the app's inputs")
        # each labelled input is offered with its label (issue #30: all said "unlabelled")
        offered = [str(picker.get_option_at_index(i).prompt) for i in range(picker.option_count)]  # type: ignore[attr-defined]
        assert any(o.split() == ["by-hand", "two"] for o in offered), offered
        assert sum(o.split()[-1] in CONCEPTS for o in offered) == len(offered), offered
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: bool(dry.lines), what="the dry run")
        text = "\n".join(dry.lines)
        assert text.startswith(NOTHING_WRITTEN)
        assert len(dry.results) == 3
        assert "classify (embedding-classifier): " in text
        assert "write-success (annotation-writer): " in text
        assert "would write" in text.lower()

        dry.query_one("#source-file").value = True
        await pilot.pause()
        location = dry.query_one("#dry-location", Input)
        location.focus()
        location.value = str(image)  # a long temporary path: typing it adds nothing but time
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(dry.results) == 1, what="the file's dry run")
        assert "confident (concept-thresholder) GREATER_THAN" in "\n".join(dry.lines)
        assert await all_annotations(client) == before  # nothing was written
        await pilot.press("escape")
        await pilot.pause()

        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        message = str(app.screen.query_one("#confirm-message").content)
        assert "EVERY new input" in message
        await pilot.press("n")
        await pilot.pause()
        assert (await client.get_app()).own_default_workflow == ""  # the base workflow
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.default_id == "auto-annotate", what="default")
        assert (await client.get_app()).default_workflow_id == "auto-annotate"
        await pilot.press("D")  # again: an app always has a default, so no "clear"
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert "an app always has one" in str(screen.query_one("#wf-info").render())
        assert (await client.get_app()).default_workflow_id == "auto-annotate"


async def test_add_node_offers_public_embedders_with_a_filter(tmp_path: Path) -> None:
    """`a` lists this app's models and clarifai/main's embedders; `/` filters; the node
    added names the public model's owner and version (issue #22)."""
    await prepare(tmp_path, spec=SPEC)
    app = make_tui(tmp_path, app_id=APP, area="workflows")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await workflows_screen(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="a picker")
        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert "clarifai/main/general-image-embedding" in ids
        assert "auto-annotate-classify" in ids
        await pilot.press("slash", *"GENERAL")
        await wait_until(pilot, lambda: options.option_count == 1, what="the filter")
        label = str(options.get_option_at_index(0).prompt)
        assert label == "clarifai/main · general-image-embedding (public)"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptScreen), what="node id")
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: "general-image-embedding" in {n.id for n in screen.nodes}, what="added"
        )
        added = next(n for n in screen.nodes if n.id == "general-image-embedding")
        embed = next(n for n in screen.nodes if n.id == "embed")
        assert added.is_public and added.model_id == "general-image-embedding"
        assert added.model_version_id == embed.model_version_id != ""


async def test_v_moves_a_node_to_a_newer_version_and_the_graph_shows_what_it_pins(
    tmp_path: Path,
) -> None:
    """Issue #32: a new version of a thresholder leaves the saved workflow on the old one (the
    graph shows the old thresholds and says a newer version exists) until `v` moves the node
    and `s` saves the workflow with the new version id."""
    await prepare(tmp_path, spec=SPEC)
    app = make_tui(tmp_path, app_id=APP, area="workflows")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await workflows_screen(pilot)
        client = app.session.app_client()
        node = next(n for n in screen.nodes if n.id == "confident")
        old = await client.version_with_config(node.model_id, node.model_version_id)
        assert {round(c.value, 2) for c in old.concepts} != {0.42}
        made = await client.create_model_version(
            node.model_id,
            concepts=[replace(c, value=0.42) for c in old.concepts],
            params=old.params,
        )
        assert made.version is not None and made.version.trained
        new_id = made.version.id

        await pilot.press("r")
        await wait_until(pilot, lambda: screen.models[node.model_id].version.id == new_id)
        graph = screen.query_one(GraphView)
        graph.select("confident")
        await pilot.pause()
        info = str(screen.query_one("#wf-info").content)
        assert f"version {old.id[:8]} (latest {new_id[:8]}: v moves it)" in info, info
        assert "0.42" not in info and "0.42" not in "\n".join(graph.lines)

        await pilot.press("v")
        await pick(pilot, new_id)
        assert screen.is_dirty("auto-annotate")
        assert "0.42" in "\n".join(graph.lines)
        info = str(screen.query_one("#wf-info").content)
        assert f"confident now runs version {new_id[:8]}" in info, info
        await pilot.press("s")
        await wait_until(pilot, lambda: not screen.is_dirty("auto-annotate"), what="save")
        saved = {n.id: n for n in (await client.get_workflow("auto-annotate")).nodes}
        assert saved["confident"].model_version_id == new_id
        assert saved["unsure"].model_version_id != new_id
