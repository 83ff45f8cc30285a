"""The auto-annotation wizard end to end on small labelled demo data, run twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, SelectionList

from api.models import AnnotationStatus
from screens.models import ModelsScreen
from screens.wizard import WizardScreen
from tests.screens.labelled_data import APP, all_annotations, pick_digits, prepare, upload
from tests.tui_helpers import connected, make_tui, wait_until
from tui.widgets.dry_run_text import NOTHING_WRITTEN
from tui.widgets.forms import ConfirmScreen


async def open_wizard(pilot: Pilot[Any]) -> WizardScreen:
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen))
    await pilot.press("w")
    await wait_until(pilot, lambda: isinstance(app.screen, WizardScreen), what="the wizard")
    wizard = app.screen
    assert isinstance(wizard, WizardScreen)
    concepts = wizard.query_one("#concepts", SelectionList)
    await wait_until(pilot, lambda: concepts.option_count == 3, what="the concepts")
    return wizard


async def test_wizard_builds_trains_dry_runs_and_sets_the_default_idempotently(
    tmp_path: Path,
) -> None:
    await prepare(tmp_path, per_concept=20)
    app = make_tui(tmp_path, app_id=APP, area="models")
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        client = app.session.app_client()
        labels = await all_annotations(client)
        wizard = await open_wizard(pilot)

        await pilot.press("ctrl+n")  # 1 concepts: all three
        await pilot.press("ctrl+n")  # 2 ids: the defaults
        assert wizard.query_one("#high", Input).has_focus
        # 3 thresholds: `two` has its own high. Rows follow the app's concept order (newest
        # first, as ListConcepts answers), so find its row rather than assume a position.
        rows = [str(row.name) for row in wizard.query("#overrides .override-row")]
        assert sorted(rows) == ["one", "two", "zero"]
        await pilot.press(*["tab"] * (2 + 2 * rows.index("two")), *"0.85")
        await pilot.press("ctrl+n")
        await pilot.press("ctrl+n")  # 4 routing: review band
        assert wizard.query_one("#user", Input).value == app.session.user_id
        await pilot.press("ctrl+n")  # 5 user
        plan_text = str(wizard.query_one("#plan-text").content)
        assert "create model auto-annotate-classify (embedding-classifier)" in plan_text
        assert "two 0.85/0.5" in plan_text
        assert "create workflow auto-annotate" in plan_text
        await pilot.press("ctrl+n")  # 6 plan -> run

        await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=60, what="the run"
        )
        log = "\n".join(wizard.log_lines)
        assert "FAILED" not in log
        assert "trained (version" in log
        assert NOTHING_WRITTEN in log and "4/4 dry run on 3 input(s)" in log
        assert "write-success (annotation-writer): " in log
        assert await all_annotations(client) == labels  # the dry run wrote nothing
        assert (await client.get_app()).own_default_workflow == ""  # the base workflow
        assert "EVERY new input" in str(app.screen.query_one("#confirm-message").content)
        await pilot.press("y")
        await wait_until(pilot, lambda: wizard.made_default is True, what="the default")
        assert (await client.get_app()).default_workflow_id == "auto-annotate"
        await pilot.press("ctrl+n")  # close
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen))

        models = {m.id: m async for m in client.iter_models()}
        band = await client.get_model_output_info("auto-annotate-unsure-band")
        assert {c.id: c.value for c in band.concepts} == {"zero": 0.9, "one": 0.9, "two": 0.85}

        # New inputs run through the default workflow as they are processed: each gets the
        # annotation its prediction routes to, written in the same transaction as its 30000
        # status (so once processing settled, they are all there). Held-out digits: the first
        # of each concept are classified confidently (SUCCESS), and the 7th held-out `one` is
        # drawn ambiguously (about 0.68 one / 0.31 two: inside the 0.5-0.9 band -> PENDING).
        held_out = pick_digits(8, skip=20)
        firsts = {i.concept: i for i in reversed(held_out)}
        ambiguous = [i for i in held_out if i.concept == "one"][6]
        fresh = [firsts["zero"], firsts["one"], firsts["two"], ambiguous]
        new_ids = await upload(pilot, client, fresh, labelled=False)
        expected = {
            input_id: (
                AnnotationStatus.PENDING if image is ambiguous else AnnotationStatus.SUCCESS,
                image.concept,
            )
            for input_id, image in zip(new_ids, fresh, strict=True)
        }
        found = [a for a in await all_annotations(client) if a.input_id in expected]
        got = {a.input_id: (a.status_code, *(c.id for c in a.concepts)) for a in found}
        assert len(found) == len(got) == len(expected), found  # one annotation per input
        assert got == expected, found
        assert {a.user_id for a in found} == {app.session.user_id}
        by_input = {a.input_id: a for a in found}
        for input_id, image in zip(new_ids, fresh, strict=True):
            value = by_input[input_id].concepts[0].value
            assert (0.5 < value <= 0.9) if image is ambiguous else value > 0.85, (image, value)

        # Again, with another default high: the same pieces are updated, none duplicated.
        wizard = await open_wizard(pilot)
        await pilot.press("ctrl+n", "ctrl+n")
        wizard.query_one("#high", Input).value = "0.95"
        await pilot.press("ctrl+n", "ctrl+n", "ctrl+n")
        plan_text = str(wizard.query_one("#plan-text").content)
        # a changed threshold is a new version of the thresholder, never PatchModels (#32)
        assert (
            "update model auto-annotate-confident (concept-thresholder): a new version: "
            "thresholds" in plan_text
        )
        assert "use    model clarifai/main · general-image-embedding" in plan_text
        assert "update workflow auto-annotate" in plan_text
        await pilot.press("ctrl+n")
        await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=60, what="rerun"
        )
        assert "FAILED" not in "\n".join(wizard.log_lines)
        await pilot.press("n")
        await wait_until(pilot, lambda: wizard.made_default is False)
        assert len([m async for m in client.iter_models()]) == len(models)
        assert [w.id async for w in client.iter_workflows()] == ["auto-annotate"]
        assert (await client.get_app()).default_workflow_id == "auto-annotate"
        # every node pins a version; the confident node the new one, with the new thresholds
        workflow = await client.get_workflow("auto-annotate")
        assert all(n.model_version_id for n in workflow.nodes)
        confident = next(n for n in workflow.nodes if n.id == "confident")
        pinned = await client.get_model_output_info(
            "auto-annotate-confident", confident.model_version_id
        )
        assert {c.value for c in pinned.concepts} == {0.95}
        versions = await client.list_model_versions("auto-annotate-confident")
        assert len(versions) == 2 and versions[0].id == confident.model_version_id
