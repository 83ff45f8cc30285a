"""Issue #27, "Done when": the whole auto-annotation runs on a generated video, and the
Explorer shows its frame-level SUCCESS and PENDING annotations.

No fakes: the embedded backend trains the Context-Based Classifier on labelled digit images,
the wizard's workflow (thresholders and writers) becomes the app's default, and a video of
digits (one a second) is posted; its sampled frames go through the workflow at ingest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import DataTable

from api import video
from api.autoannotate import WizardSpec, apply_models, apply_workflow, plan, train_and_wait
from api.demo import iter_digits
from api.models import AnnotationStatus, Concept, NewInput
from screens.input_detail import InputDetailScreen
from tests.screens.test_explorer import APP, backend_client, open_explorer
from tests.tui_helpers import make_tui, wait_until

SUCCESS, PENDING = AnnotationStatus.SUCCESS, AnnotationStatus.PENDING
CONCEPTS = ("zero", "one", "two")


def blended_digits() -> bytes:
    """Six seconds of digits, one a second: clear ones, and seconds where two digits are
    superimposed (as in a cross-fade), which the classifier cannot be sure of."""
    import io

    from PIL import Image

    first: dict[str, Image.Image] = {}
    for d in iter_digits(400):
        if d.concept in CONCEPTS and d.concept not in first:
            first[d.concept] = Image.open(io.BytesIO(d.png)).convert("RGB").resize((64, 64))
    zero, one, two = (first[c] for c in CONCEPTS)
    seconds = [
        zero,
        Image.blend(one, two, 0.5),
        two,
        Image.blend(zero, one, 0.5),
        one,
        Image.blend(two, zero, 0.5),
    ]
    return video.encode([s for s in seconds for _ in range(4)], fps=4, codec="libx264")


def cell(table: DataTable[Any], row: str, column: str) -> str:
    return str(table.get_cell(row, column))


async def test_frame_level_success_and_pending_reach_the_explorer(tmp_path: Path) -> None:
    async with backend_client(tmp_path) as (backend, client):
        await client.create_app(APP)
        app = client.with_app(APP)
        await app.create_concepts([Concept(c, name=c) for c in CONCEPTS])
        labelled = [d for d in iter_digits(400) if d.concept in CONCEPTS][:90]
        posted = await app.post_inputs(
            [NewInput(data=d.png, concepts=(Concept(d.concept),)) for d in labelled]
        )
        assert all(r.ok for r in posted)
        await backend.wait_idle(60)
        # A review band wide enough that some frames are sure and some are not.
        spec = WizardSpec(concepts=CONCEPTS, annotation_user_id="me", high=0.97, low=0.3)
        the_plan = plan(spec, {}, set())
        pinned = await apply_models(app, the_plan, lambda _: None)
        version = await train_and_wait(
            app, spec.model_id("classify"), [Concept(c, name=c) for c in CONCEPTS], poll=0.05
        )
        workflow = await apply_workflow(app, the_plan, version.id, pinned)
        await app.set_default_workflow(workflow.id)
        clip = blended_digits()
        (result,) = await app.post_inputs(
            [NewInput(data=clip, video=True, id="digits", metadata={"filename": "digits.mp4"})]
        )
        assert result.ok, result.reason
        await backend.wait_idle(60)
        written = [
            a
            async for a in app.iter_annotations(list_all_annotations=True)
            if a.input_id == "digits"
        ]
    assert written and all(a.frame is not None for a in written)
    success = sum(1 for a in written if a.status_code == SUCCESS)
    pending = sum(1 for a in written if a.status_code == PENDING)
    assert success and pending, [(a.frame, a.status_code, a.concepts) for a in written]

    tui = make_tui(tmp_path, app_id=APP, area="explorer")
    async with tui.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        table = screen.query_one("#explorer-table", DataTable)
        assert cell(table, "digits", "id") == "digits.mp4\nvideo"
        assert cell(table, "digits", "concepts").split("\n")[1] == "6.0 s · 6 frames"
        assert cell(table, "digits", str(int(SUCCESS))) == str(success)
        assert cell(table, "digits", str(int(PENDING))) == str(pending)
        # The detail lists the frames with their statuses.
        while screen._cursor_id() != "digits":
            await pilot.press("down")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(tui.screen, InputDetailScreen))
        detail = tui.screen
        assert isinstance(detail, InputDetailScreen)
        frames = detail.query_one(DataTable)
        await wait_until(pilot, lambda: frames.row_count >= 6)
        text = "\n".join(
            " ".join(str(c) for c in frames.get_row_at(y)) for y in range(frames.row_count)
        )
        assert "SUCCESS" in text and "PENDING" in text, text
