"""The whole walkthrough, end to end, through the TUI with Pilot keys at 80x24: once against the
embedded backend (the default local profile) and once against `clarifai-tui serve` on an
ephemeral loopback port (a `clarifai` profile with its base URL and CLARIFAI_PAT).

app (ctrl+o picker) -> upload a folder (Uploads) -> concepts in one line (Concepts) -> labels
(mostly via the client, three by keys in the labelling loop) -> the auto-annotation wizard
(classifier trained, thresholders, writers, workflow, dry run writing nothing, default set) ->
the graph drawn (Workflows) -> new inputs uploaded (Uploads) -> SUCCESS and PENDING seen
(Explorer) -> one PENDING accepted (Review), read back as SUCCESS from the server.

The data and key sequences are those proven in tests/screens/ (test_wizard.py above all):
20 labelled digits of each of zero/one/two, the `two` high threshold at 0.85, and held-out
digits whose first of each concept is classified confidently while the 7th held-out `one` is
ambiguous (inside the 0.5-0.9 band -> PENDING).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, SelectionList, Static

from api.client import ClarifaiClient
from api.demo import DemoImage
from api.models import AnnotationStatus, Concept, NewAnnotation, content_input_id
from screens.concepts import ConceptsScreen
from screens.explorer import ExplorerScreen
from screens.labelling import LabellingScreen
from screens.models import ModelsScreen
from screens.review import ReviewScreen
from screens.uploads import MarkingTree, UploadsScreen
from screens.wizard import WizardScreen
from screens.workflows import WorkflowsScreen
from tests.faults.support import serve
from tests.screens.labelled_data import CONCEPTS, all_annotations, pick_digits, settle
from tests.tui_helpers import (
    connected,
    labelling_shown,
    make_tui,
    picker_opened_alone,
    wait_until,
)
from tui.app import ClarifaiTUI
from tui.config import load_config
from tui.widgets.dry_run_text import NOTHING_WRITTEN, REMOTE_DRY_RUN
from tui.widgets.folders import FolderPrompt
from tui.widgets.forms import ConfirmScreen

APP = "digits"
KEY = "e2e-test-key"
SUCCESS, PENDING = AnnotationStatus.SUCCESS, AnnotationStatus.PENDING
#: Inputs labelled by keys in the labelling loop (one of each concept); the rest by the client.
BY_KEYS = 3


@contextmanager
def tui_for(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ClarifaiTUI]:
    """The TUI (no app chosen yet, starting in Uploads) on the embedded backend or on `serve`."""
    if backend == "embedded":
        yield make_tui(tmp_path, area="uploads")
        return
    data_dir = tmp_path / "served"
    # `python -m api.local.serve --host 127.0.0.1 --port 0 --data-dir DIR` with CLARIFAI_PAT
    # set; SIGKILLed in its own finally.
    with serve(data_dir, key=KEY) as served:
        line = served.lines[-1]
        assert line.startswith("clarifai-tui serve: listening on http://127.0.0.1:"), line
        assert f"(data: {data_dir.resolve()})" in line, line
        for name in list(os.environ):
            if name.lower().endswith("_proxy"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("NO_PROXY", "*")
        monkeypatch.setenv("CLARIFAI_PAT", KEY)
        monkeypatch.delenv("CLARIFAI_API_BASE", raising=False)
        path = tmp_path / "config.toml"
        path.write_text(
            'active_profile = "team"\n'
            "[profiles.team]\n"
            'backend = "clarifai"\n'
            f'base_url = "{served.url}"\n'
            'user_id = "me"\n'
        )
        config = load_config(path)
        yield ClarifaiTUI(config, config.profile(), start_area="uploads")


def write_folder(folder: Path, images: list[DemoImage]) -> dict[str, DemoImage]:
    """The images as PNG files; returns input id (content hash) -> image."""
    folder.mkdir()
    for n, image in enumerate(images):
        (folder / f"{image.concept}-{n:02d}.png").write_bytes(image.png)
    return {content_input_id(i.png): i for i in images}


async def go(pilot: Pilot[Any], area: str, screen_type: type) -> Any:
    """Switch area with the `:` command line (digits are concept keys in some areas)."""
    await pilot.press("colon", *area, "enter")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, screen_type), what=area)
    return pilot.app.screen


def upload_settled(screen: UploadsScreen, count: int) -> bool:
    return (
        not screen.running
        and len(screen.states) == count
        and all(s in ("done", "failed", "cancelled") for s in screen.states.values())
    )


async def upload_folder(pilot: Pilot[Any], screen: UploadsScreen, total: int) -> None:
    """Mark the tree's root folder (the cursor starts on it) and add it."""
    tree = screen.query_one(MarkingTree)
    await wait_until(pilot, lambda: tree.root.children, what="folder listing")
    tree.focus()
    await pilot.press("space")
    assert Path(tree.path) in tree.marked
    await pilot.press("a")
    await wait_until(pilot, lambda: upload_settled(screen, total), timeout=60, what="uploaded")
    assert set(screen.states.values()) == {"done"}, screen.states


async def labelled(client: ClarifaiClient) -> dict[str, set[str]]:
    """input id -> concept ids of its SUCCESS human annotations."""
    out: dict[str, set[str]] = {}
    for a in await all_annotations(client):
        if a.status_code == SUCCESS and not a.model_version_id and a.concepts:
            out.setdefault(a.input_id, set()).update(c.id for c in a.concepts if c.value > 0)
    return out


@pytest.mark.parametrize("backend", ["embedded", "serve"])
async def test_walkthrough(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARIFAI_TUI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(UploadsScreen, "POLL_INTERVAL", 0.05)
    train = write_folder(tmp_path / "train", pick_digits(20))
    held_out = pick_digits(8, skip=20)
    firsts = {i.concept: i for i in reversed(held_out)}
    ambiguous = [i for i in held_out if i.concept == "one"][6]
    fresh = write_folder(
        tmp_path / "new", [firsts["zero"], firsts["one"], firsts["two"], ambiguous]
    )
    ambiguous_id = content_input_id(ambiguous.png)
    monkeypatch.setattr(UploadsScreen, "START_DIR", tmp_path / "train")

    with tui_for(backend, tmp_path, monkeypatch) as app:
        async with app.run_test(size=(80, 24)) as pilot:
            await connected(pilot)

            # 1. The app: with none yet the picker opens by itself; ctrl+o does not stack.
            await picker_opened_alone(pilot, app)
            await pilot.press("n", *APP, "enter")
            await wait_until(pilot, lambda: app.session.app_id == APP, what="app created")
            await wait_until(pilot, lambda: isinstance(app.screen, UploadsScreen))
            client = app.session.app_client()
            assert (await client.get_app()).id == APP

            # 2. Uploads: the folder of 60 digits (20 each of zero/one/two).
            uploads = app.screen
            assert isinstance(uploads, UploadsScreen)
            await upload_folder(pilot, uploads, len(train))
            await settle(pilot, client)
            inputs = {i.id async for i in client.iter_inputs()}
            assert inputs == set(train)

            # 3. Concepts: all three from one line.
            concepts = await go(pilot, "concepts", ConceptsScreen)
            await wait_until(pilot, lambda: not concepts.busy, what="concepts loaded")
            await pilot.press("b", *", ".join(CONCEPTS), "enter")
            await wait_until(pilot, lambda: len(concepts.concepts) == 3, what="concepts created")
            assert sorted(c.id for c in await client.list_concepts()) == sorted(CONCEPTS)

            # 4. Labels: to stay fast, all but one input of each concept by the client...
            by_keys = {i.concept: input_id for input_id, i in train.items()}
            assert len(by_keys) == BY_KEYS
            results = await client.post_annotations(
                [
                    NewAnnotation(input_id, (Concept(image.concept),))
                    for input_id, image in train.items()
                    if input_id not in by_keys.values()
                ]
            )
            assert all(r.ok for r in results), [r.reason for r in results if not r.ok]
            # ... and the last three by keys in the labelling loop (unlabelled inputs first).
            await wait_until(pilot, lambda: not concepts.busy, what="concepts")
            await pilot.press("l")
            await wait_until(pilot, lambda: isinstance(app.screen, LabellingScreen))
            loop = app.screen
            assert isinstance(loop, LabellingScreen)
            await labelling_shown(pilot, loop)
            assert loop.labeller is not None
            order = [c.id for c in loop.labeller.concepts]
            # The loop shows unlabelled inputs first, so the three come first. Any other input
            # shown before them (one the loop wrongly thinks unlabelled) is skipped with `s` and
            # counted; the count is asserted at the very end, so the rest of the walkthrough
            # still runs and is checked.
            not_first: list[str] = []
            to_label = set(by_keys.values())
            while to_label:
                current = loop.current
                assert current is not None, f"the loop ended with {to_label} unlabelled"
                if current.id not in to_label:
                    not_first.append(current.id)
                    await pilot.press("s")
                else:
                    to_label.discard(current.id)
                    concept = train[current.id].concept
                    await pilot.press(str(order.index(concept) + 1), "space")
                await labelling_shown(pilot, loop)
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, ConceptsScreen))
            labels = await labelled(client)
            assert labels == {input_id: {i.concept} for input_id, i in train.items()}
            before = await all_annotations(client)

            # 5. Models: the wizard (key sequence of tests/screens/test_wizard.py).
            await go(pilot, "models", ModelsScreen)
            await pilot.press("w")
            await wait_until(pilot, lambda: isinstance(app.screen, WizardScreen), what="wizard")
            wizard = app.screen
            assert isinstance(wizard, WizardScreen)
            options = wizard.query_one("#concepts", SelectionList)
            await wait_until(pilot, lambda: options.option_count == 3, what="wizard concepts")
            await pilot.press("ctrl+n")  # 1 concepts: all three
            await pilot.press("ctrl+n")  # 2 ids: the defaults
            assert wizard.query_one("#high", Input).has_focus
            rows = [str(row.name) for row in wizard.query("#overrides .override-row")]
            assert sorted(rows) == sorted(CONCEPTS)
            await pilot.press(*["tab"] * (2 + 2 * rows.index("two")), *"0.85")
            await pilot.press("ctrl+n")  # 3 thresholds
            await pilot.press("ctrl+n")  # 4 routing: review band
            assert wizard.query_one("#user", Input).value == app.session.user_id
            await pilot.press("ctrl+n")  # 5 user
            plan_text = str(wizard.query_one("#plan-text", Static).content)
            assert "create model auto-annotate-classify (embedding-classifier)" in plan_text
            assert "create workflow auto-annotate" in plan_text
            await pilot.press("ctrl+n")  # 6 plan -> run: create, train, workflow, dry run
            await wait_until(
                pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=60, what="the run"
            )
            log = "\n".join(wizard.log_lines)
            assert "FAILED" not in log, log
            assert "trained (version" in log, log
            # serve is reached as a remote profile: no promise about writers there
            assert (NOTHING_WRITTEN if backend == "embedded" else REMOTE_DRY_RUN) in log, log
            assert "write-success (annotation-writer): " in log, log
            # the dry run wrote nothing
            assert len(await all_annotations(client)) == len(before)
            assert await all_annotations(client) == before
            models = {m.id async for m in client.iter_models()}
            for part in ("classify", "confident", "unsure-band"):
                assert f"auto-annotate-{part}" in models, models
            # the embed node is clarifai/main's public embedder, not a model of the app
            assert "auto-annotate-embed" not in models
            embed = (await client.get_workflow("auto-annotate")).nodes[0]
            assert (embed.model_user_id, embed.model_app_id) == ("clarifai", "main")
            assert embed.model_version_id
            assert (await client.get_app()).own_default_workflow == ""  # the base workflow
            await pilot.press("y")  # set the default
            await wait_until(pilot, lambda: wizard.made_default is True, what="the default")
            assert (await client.get_app()).default_workflow_id == "auto-annotate"
            await pilot.press("ctrl+n")  # close
            await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen))

            # 6. Workflows: the graph is drawn.
            workflows = await go(pilot, "workflows", WorkflowsScreen)
            await wait_until(
                pilot,
                lambda: workflows.loaded and workflows.graph.lines and workflows.graph.lines[0],
                what="the graph",
            )
            drawn = "\n".join(workflows.graph.lines)
            for node in ("embed", "classify", "confident", "write-success"):
                assert node in drawn, drawn

            # 7. Uploads: new inputs, run through the default workflow as they are processed.
            uploads = await go(pilot, "uploads", UploadsScreen)
            await pilot.press("g")
            await wait_until(pilot, lambda: isinstance(app.screen, FolderPrompt))
            await pilot.press("home", "ctrl+k")
            # The folder's path as a terminal paste (one bracketed Paste event): typed key by key
            # its ~60 characters took ~5 s of Pilot presses.
            app.screen.query_one(Input).post_message(events.Paste(str(tmp_path / "new")))
            await pilot.press("enter")
            tree = uploads.query_one(MarkingTree)
            await wait_until(
                pilot, lambda: Path(tree.path) == (tmp_path / "new").resolve(), what="new folder"
            )
            await upload_folder(pilot, uploads, len(train) + len(fresh))
            await settle(pilot, client)
            found = [a for a in await all_annotations(client) if a.input_id in fresh]
            got = {a.input_id: (a.status_code, *(c.id for c in a.concepts)) for a in found}
            expected = {
                input_id: (PENDING if input_id == ambiguous_id else SUCCESS, image.concept)
                for input_id, image in fresh.items()
            }
            assert len(found) == len(expected) and got == expected, found

            # 8. Explorer: the new inputs with their SUCCESS and PENDING counts.
            explorer = await go(pilot, "explorer", ExplorerScreen)
            await wait_until(
                pilot,
                lambda: (
                    explorer.data is not None
                    and not explorer._loading
                    and explorer.pager is not None
                ),
                what="explorer page",
            )
            assert explorer.data is not None
            rows_by_id = {r.id: r for r in explorer.data.rows}
            assert set(fresh) <= set(rows_by_id)
            for input_id in fresh:
                row = rows_by_id[input_id]
                if input_id == ambiguous_id:
                    assert (row.count(SUCCESS), row.count(PENDING)) == (0, 1)
                else:
                    assert (row.count(SUCCESS), row.count(PENDING)) == (1, 0)
            assert sum(r.count(PENDING) for r in explorer.data.rows) == 1

            # 9. Review: accept the PENDING annotation; SUCCESS on the server.
            review = await go(pilot, "review", ReviewScreen)
            await wait_until(
                pilot, lambda: review.current is not None and not review.busy, what="claim"
            )
            pending = review.current
            assert pending is not None and pending.input_id == ambiguous_id
            await pilot.press("a")
            await wait_until(
                pilot,
                lambda: not review.busy and review.current is not pending,
                what="accepted",
            )
            accepted = await client.list_annotations(
                ids=[pending.id], input_ids=[pending.input_id], list_all_annotations=True
            )
            assert [a.status_code for a in accepted] == [SUCCESS]
            assert [c.id for c in accepted[0].concepts] == ["one"]

            # The labelling loop put the three unlabelled inputs first (see step 4).
            assert not_first == [], (
                f"the labelling loop showed {len(not_first)} input(s) labelled via the client "
                f"(user {app.session.user_id!r}) as unlabelled, before the unlabelled ones"
            )
