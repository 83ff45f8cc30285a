"""The labelling loop, opened from the Concepts area with `l`.

One input at a time (processed inputs, unlabelled first), its half-block preview, its id and
the app's concepts: number keys toggle concepts (1-9, then 0 for the tenth; `]`/`[` show
the next ten), `space`/`enter` saves and goes on, `backspace` goes back, `s` skips, `u` undoes
the last save (on the server), `n` marks the input as "none of these".

What a save writes (decided here; the issue left it open):
- A label is one annotation on the input by the current user with status SUCCESS.
  Toggled-on concepts get value 1. The concepts left off get no value: the classifier reads
  an input labelled with some concepts as a negative for the others (closed world: see
  `api/local/nodes/classifier.py`), so writing value-0 rows for them would add nothing and
  would be wrong for multi-label data where an unchecked concept may just be unnoticed.
- `n` ("none of these") writes value 0 for every concept: an explicit negative, which is
  how an input with none of the concepts teaches the classifier anything.
- An input that already has labels by this user (e.g. concepts given at upload, which
  Clarifai turns into an input-level annotation) keeps one annotation: the first is
  overwritten with the new concepts and any others are deleted, so "what you see is the
  label". Saving with nothing toggled on a labelled input removes its labels; on an
  unlabelled input it writes nothing (like `s`).
- Undo puts back exactly what was there before the save (annotations re-created with their
  own ids, patched back, or deleted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from api.client import ClarifaiClient
from api.concepts import app_concepts
from api.models import (
    Annotation,
    AnnotationFilter,
    AnnotationStatus,
    AnnotationUpdate,
    Concept,
    Input,
    InputStatus,
    NewAnnotation,
)
from tui.widgets.area import AreaScreen, bindings_for
from tui.widgets.preview import ImagePreview

#: At most this many inputs are loaded into the loop (say so when there are more).
MAX_INPUTS = 10_000
#: At most this many annotations are read to find which inputs are labelled.
MAX_SCANNED_ANNOTATIONS = 50_000
PAGE = 10
HINT = "1-9, 0: toggle a concept"


def is_mine(annotation: Annotation, user_ids: Sequence[str]) -> bool:
    """A label by this user: human-made (no model version), SUCCESS, by one of `user_ids`."""
    return (
        not annotation.model_version_id
        and annotation.status_code == AnnotationStatus.SUCCESS
        and (not annotation.user_id or annotation.user_id in user_ids)
    )


@dataclass
class Saved:
    """One save, enough to undo it."""

    input_id: str
    before: list[Annotation]
    created: list[str] = field(default_factory=list)


class Labeller:
    """The loop's data and writes, no UI: which inputs, their labels, save and undo."""

    def __init__(self, client: ClarifaiClient, user_id: str, concepts: Sequence[Concept]) -> None:
        self.client = client
        self.user_ids = tuple(dict.fromkeys([user_id, client.user_id, "me"]))
        self.concepts = list(concepts)
        self.inputs: list[Input] = []
        self.labelled: set[str] = set()
        self.capped = False
        self.saves: list[Saved] = []

    async def load(self) -> None:
        """Processed inputs, unlabelled ones first (each group in the server's order)."""
        labelled: set[str] = set()
        scanned = 0
        mine = [AnnotationFilter(status=AnnotationStatus.SUCCESS, user_id=self.user_ids[0])]
        async for hit in self.client.iter_search_annotations(mine):
            annotation = hit.annotation
            if annotation is None:
                continue
            scanned += 1
            if is_mine(annotation, self.user_ids) and annotation.concepts:
                labelled.add(annotation.input_id)
            if scanned >= MAX_SCANNED_ANNOTATIONS:
                self.capped = True
                break
        inputs: list[Input] = []
        async for item in self.client.iter_inputs(status=InputStatus.SUCCESS):
            inputs.append(item)
            if len(inputs) >= MAX_INPUTS:
                self.capped = True
                break
        self.labelled = labelled
        self.inputs = [i for i in inputs if i.id not in labelled] + [
            i for i in inputs if i.id in labelled
        ]

    @property
    def unlabelled(self) -> int:
        return sum(1 for i in self.inputs if i.id not in self.labelled)

    async def labels_of(self, input_id: str) -> list[Annotation]:
        labels = [AnnotationFilter(status=AnnotationStatus.SUCCESS, input_id=input_id)]
        page = await self.client.search_annotations(labels, per_page=128)
        return [h.annotation for h in page if h.annotation and is_mine(h.annotation, self.user_ids)]

    def concepts_for(self, on: Sequence[str], none: bool) -> tuple[Concept, ...]:
        names = {c.id: c.name for c in self.concepts}
        if none:
            return tuple(Concept(c.id, name=c.name, value=0.0) for c in self.concepts)
        return tuple(Concept(cid, name=names.get(cid, cid), value=1.0) for cid in on)

    async def save(self, input_id: str, on: Sequence[str], none: bool) -> Saved | None:
        """Make the user's label on `input_id` exactly `on` (or "none of these")."""
        concepts = self.concepts_for(on, none)
        existing = await self.labels_of(input_id)
        wanted = {(c.id, c.value > 0) for c in concepts}
        if not existing and not concepts:
            return None
        if (
            len(existing) == 1
            and {(c.id, c.value > 0) for c in existing[0].concepts} == wanted
            and len(existing[0].concepts) == len(concepts)
        ):
            return None  # unchanged
        saved = Saved(input_id, existing)
        if not existing:
            new = NewAnnotation(input_id, concepts, status_code=AnnotationStatus.SUCCESS)
            results = await self.client.post_annotations([new])
            if not results[0].ok:
                raise RuntimeError(f"could not save the label: {results[0].reason}")
            saved.created.append(new.id)
        else:
            first, rest = existing[0], existing[1:]
            if concepts:
                await self.client.patch_annotations(
                    [AnnotationUpdate(first.id, input_id, concepts=concepts)], action="overwrite"
                )
            else:
                await self.client.delete_annotation(input_id, first.id)
            for other in rest:
                await self.client.delete_annotation(input_id, other.id)
        if concepts:
            self.labelled.add(input_id)
        else:
            self.labelled.discard(input_id)
        self.saves.append(saved)
        return saved

    async def undo(self) -> str | None:
        """Undo the last save; returns its input id (None when there is nothing to undo)."""
        if not self.saves:
            return None
        saved = self.saves.pop()
        input_id = saved.input_id
        for annotation_id in saved.created:
            await self.client.delete_annotation(input_id, annotation_id)
        current = {a.id for a in await self.labels_of(input_id)}
        for before in saved.before:
            if before.id in current:
                await self.client.patch_annotations(
                    [AnnotationUpdate(before.id, input_id, concepts=before.concepts)],
                    action="overwrite",
                )
            else:
                new = NewAnnotation(
                    input_id,
                    before.concepts,
                    status_code=AnnotationStatus.SUCCESS,
                    id=before.id,
                    annotation_info=dict(before.annotation_info) or None,
                )
                results = await self.client.post_annotations([new])
                if not results[0].ok:  # the old id is not reusable: keep the label anyway
                    retry = NewAnnotation(
                        input_id, before.concepts, status_code=AnnotationStatus.SUCCESS
                    )
                    await self.client.post_annotations([retry])
        if any(a.concepts for a in saved.before):
            self.labelled.add(input_id)
        else:
            self.labelled.discard(input_id)
        return input_id


class LabellingScreen(AreaScreen):
    """The keyboard labelling loop (pushed over the Concepts area)."""

    AREA: ClassVar[str] = "Concepts › Labelling"
    BINDINGS: ClassVar = bindings_for("labelling")

    DEFAULT_CSS = """
    /* the number keys toggle concepts here: no strip offering them for areas */
    LabellingScreen #area-strip { display: none; }
    LabellingScreen #label-counter { height: 1; background: $panel; padding: 0 1; }
    LabellingScreen #label-body { height: 1fr; }
    LabellingScreen #label-preview { width: 1fr; height: 1fr; }
    LabellingScreen #label-side { width: 36; height: 1fr; padding: 0 1; }
    LabellingScreen #label-meta { height: auto; }
    LabellingScreen #label-concepts { height: 1fr; margin-top: 1; }
    LabellingScreen #label-hint { height: auto; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.labeller: Labeller | None = None
        self.index = 0
        self.on: list[str] = []
        self.none = False
        self.page = 0
        self.busy = False
        self.loaded_labels: list[Annotation] = []
        self.shown_id = ""

    def compose_body(self) -> ComposeResult:
        yield Static("", id="label-counter")
        with Horizontal(id="label-body"):
            yield ImagePreview(id="label-preview")
            with Vertical(id="label-side"):
                yield Static("", id="label-meta")
                yield Static("", id="label-concepts")
                yield Static(HINT, id="label-hint")

    def on_mount(self) -> None:
        self._counter("loading inputs…")
        self._run(self._load())

    # -- plumbing --------------------------------------------------------------------------

    def _run(self, work: object) -> None:
        self.run_worker(work, group="labelling", exclusive=False, exit_on_error=False)  # type: ignore[arg-type]

    @property
    def current(self) -> Input | None:
        labeller = self.labeller
        if labeller is None or not 0 <= self.index < len(labeller.inputs):
            return None
        return labeller.inputs[self.index]

    async def _load(self) -> None:
        self.busy = True
        try:
            client = self.session.app_client()
            concepts = await app_concepts(client)
            labeller = Labeller(client, self.session.user_id, concepts)
            await labeller.load()
            self.labeller = labeller
            self.index = 0
        finally:
            self.busy = False
        if not concepts:
            self.notify("this app has no concepts yet: create some first (n or b)")
        await self._show()

    def _counter(self, text: str) -> None:
        self.query_one("#label-counter", Static).update(text)

    def _counter_text(self) -> str:
        labeller = self.labeller
        if labeller is None:
            return ""
        total = len(labeller.inputs)
        parts = [
            f"input {min(self.index + 1, total)} of {total}",
            f"{labeller.unlabelled} unlabelled",
        ]
        if labeller.capped:
            parts.append(f"first {MAX_INPUTS} only")
        if labeller.saves:
            parts.append(f"{len(labeller.saves)} saved (u undoes)")
        return " · ".join(parts)

    async def _show(self) -> None:
        """Show the current input: its id, its labels (read from the server), its image."""
        labeller = self.labeller
        item = self.current
        self.on = []
        self.none = False
        self.loaded_labels = []
        preview = self.query_one(ImagePreview)
        meta = self.query_one("#label-meta", Static)
        if labeller is None:
            return
        if item is None:
            self.shown_id = ""
            total = len(labeller.inputs)
            meta.update(
                "No processed inputs yet: upload some (area 1)."
                if not total
                else f"End of the {total} inputs. backspace goes back, esc closes."
            )
            self.query_one("#label-concepts", Static).update("")
            preview.set_image(None)
            self._counter(self._counter_text())
            return
        self.shown_id = item.id
        self.busy = True
        try:
            labels = await labeller.labels_of(item.id)
        finally:
            self.busy = False
        if self.current is not item:
            return
        self.loaded_labels = labels
        positives = [c.id for a in labels for c in a.concepts if c.value > 0]
        self.on = list(dict.fromkeys(positives))
        self.none = bool(labels) and not positives
        self._render_meta()
        self._render_concepts()
        self._counter(self._counter_text())
        try:
            if item.is_video:
                # A video is labelled as a whole: its first frame stands for it.
                if not item.thumbnail_url:
                    raise ValueError("the video has no thumbnail yet")
                data = await labeller.client.fetch_image(item.thumbnail_url)
            else:
                data = await labeller.client.fetch_image(item)
        except Exception as exc:
            if self.current is item:
                preview.set_image(None, label=f"no preview: {exc}")
            return
        if self.current is item:
            preview.set_image(data, label="video: its first frame" if item.is_video else "")

    def _render_meta(self) -> None:
        item = self.current
        if item is None:
            return
        state = "labelled" if self.loaded_labels else "not labelled yet"
        self.query_one("#label-meta", Static).update(f"[b]input[/b] {escape(item.id)}\n{state}")

    def _render_concepts(self) -> None:
        labeller = self.labeller
        if labeller is None:
            return
        concepts = labeller.concepts
        start = self.page * PAGE
        lines = []
        for slot, concept in enumerate(concepts[start : start + PAGE], start=1):
            on = concept.id in self.on
            mark = r"\[x]" if on else r"\[ ]"
            key = str(slot % 10)
            name = escape(concept.name or concept.id)
            lines.append(f"[b green]{mark} {key} {name}[/]" if on else f"{mark} {key} {name}")
        if not concepts:
            lines.append("(no concepts: esc, then n or b)")
        pages = (len(concepts) + PAGE - 1) // PAGE
        if pages > 1:
            lines.append(f"[dim]page {self.page + 1}/{pages}: ] more, [ back[/]")
        if self.none:
            lines.append("[b yellow]none of these (n)[/]")
        elsewhere = [c for c in self.on if c not in {x.id for x in concepts[start : start + PAGE]}]
        if elsewhere:
            lines.append(f"[dim]also on: {escape(', '.join(elsewhere))}[/]")
        self.query_one("#label-concepts", Static).update("\n".join(lines))

    # -- actions ---------------------------------------------------------------------------

    def action_toggle_concept(self, slot: int) -> None:
        labeller = self.labeller
        if labeller is None or self.busy or self.current is None:
            return
        position = self.page * PAGE + slot - 1
        if not 0 <= position < len(labeller.concepts):
            return
        concept_id = labeller.concepts[position].id
        if concept_id in self.on:
            self.on.remove(concept_id)
        else:
            self.on.append(concept_id)
            self.none = False
        self._render_concepts()

    def action_toggle_none(self) -> None:
        if self.labeller is None or self.busy or self.current is None:
            return
        self.none = not self.none
        if self.none:
            self.on = []
        self._render_concepts()

    def action_concept_page(self, delta: int) -> None:
        labeller = self.labeller
        if labeller is None:
            return
        pages = max(1, (len(labeller.concepts) + PAGE - 1) // PAGE)
        self.page = (self.page + delta) % pages
        self._render_concepts()

    def action_save_next(self) -> None:
        labeller = self.labeller
        item = self.current
        if labeller is None or item is None or self.busy:
            return
        self.busy = True
        on, none = list(self.on), self.none

        async def work() -> None:
            try:
                saved = await labeller.save(item.id, on, none)
            finally:
                self.busy = False
            if saved is None and not on and not none:
                self.notify("nothing toggled: nothing saved (n marks 'none of these')")
            self.index += 1
            await self._show()

        self._run(work())

    def action_skip(self) -> None:
        if self.labeller is None or self.busy or self.current is None:
            return
        self.index += 1
        self._run(self._show())

    def action_previous(self) -> None:
        if self.labeller is None or self.busy or self.index == 0:
            return
        self.index -= 1
        self._run(self._show())

    def action_undo(self) -> None:
        labeller = self.labeller
        if labeller is None or self.busy:
            return
        if not labeller.saves:
            self.notify("nothing to undo")
            return
        self.busy = True

        async def work() -> None:
            try:
                input_id = await labeller.undo()
            finally:
                self.busy = False
            ids = [i.id for i in labeller.inputs]
            if input_id in ids:
                self.index = ids.index(input_id)
            self.notify(f"undone: the label of {input_id} is back as it was")
            await self._show()

        self._run(work())

    def action_close(self) -> None:
        self.dismiss(None)
