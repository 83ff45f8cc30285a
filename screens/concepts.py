"""The Concepts area: the app's concepts with their labelled-input counts; create, rename,
bulk-create, delete; `l` opens the labelling loop.

Counts: "labelled" is the number of inputs with a SUCCESS annotation by a person that gives
the concept a positive value; "auto" the same for annotations written by a model (the
auto-annotation workflow). They come from paging through the app's SUCCESS annotations, at
most `MAX_COUNTED` of them: past that the counts are marked `≥` and the status line says so.

Delete: Clarifai's API has no DeleteConcepts call, so a concept id cannot leave the app.
What a user means by "delete walker" is "no input is labelled walker any more": after a
confirmation that says exactly that, `d` removes the concept from every annotation that
uses it (an annotation left with no concept is deleted), and the concept stays in the list
with no labels. Models trained with it keep it until they are trained again.
"""

from __future__ import annotations

from collections import defaultdict
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from api.client import ClarifaiClient
from api.concepts import app_concepts, concept_id_for
from api.models import (
    AnnotationFilter,
    AnnotationStatus,
    AnnotationUpdate,
    Concept,
    InputFilter,
    InputStatus,
    SearchFilter,
)
from tui.widgets.area import AreaScreen, bindings_for
from tui.widgets.forms import ConfirmScreen, PromptScreen
from tui.widgets.registry import make_screen
from tui.widgets.tables import RowTable

#: Annotations read to count labels; past this the counts are lower bounds.
MAX_COUNTED = 20_000
ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def concept_id_problem(value: str, taken: set[str]) -> str | None:
    if not value:
        return "the id is required"
    if len(value) > 64 or not set(value) <= ID_CHARS:
        return "the id takes up to 64 letters, digits, '_' or '-'"
    if value in taken:
        return f"{value!r} already exists"
    return None


def split_names(text: str) -> list[str]:
    """`"walker, runner,, Bike rider"` -> `["walker", "runner", "Bike rider"]`."""
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


async def count_labels(
    client: ClarifaiClient, limit: int = MAX_COUNTED
) -> tuple[dict[str, int], dict[str, int], bool]:
    """Inputs per concept with a positive SUCCESS label by people, and by models; and
    whether the count stopped at `limit` annotations.

    Only inputs that were processed count: a label on an input that failed to process (a
    broken file, a refused URL) labels nothing a model can learn from. One search walk
    (PostAnnotationsSearches: SUCCESS annotations of inputs in status 30000), the same call
    on the platform and the embedded backend."""
    people: dict[str, set[str]] = defaultdict(set)
    models: dict[str, set[str]] = defaultdict(set)
    seen = 0
    capped = False
    trusted: list[SearchFilter] = [
        AnnotationFilter(status=AnnotationStatus.SUCCESS),
        InputFilter(status=InputStatus.SUCCESS),
    ]
    async for hit in client.iter_search_annotations(trusted):
        annotation = hit.annotation
        if annotation is None:
            continue
        seen += 1
        target = models if annotation.model_version_id else people
        for concept in annotation.concepts:
            if concept.value > 0:
                target[concept.id].add(annotation.input_id)
        if seen >= limit:
            capped = True
            break
    return (
        {k: len(v) for k, v in people.items()},
        {k: len(v) for k, v in models.items()},
        capped,
    )


async def remove_concept_everywhere(client: ClarifaiClient, concept_id: str) -> tuple[int, int]:
    """Take `concept_id` out of every annotation in the app; returns (patched, deleted)."""
    hits = [
        a
        async for a in client.iter_annotations(list_all_annotations=True)
        if any(c.id == concept_id for c in a.concepts)
    ]
    patched = deleted = 0
    for annotation in hits:
        if all(c.id == concept_id for c in annotation.concepts):
            await client.delete_annotation(annotation.input_id, annotation.id)
            deleted += 1
        else:
            await client.patch_annotations(
                [
                    AnnotationUpdate(
                        annotation.id, annotation.input_id, concepts=(Concept(concept_id),)
                    )
                ],
                action="remove",
            )
            patched += 1
    return patched, deleted


class ConceptForm(ModalScreen[tuple[str, str] | None]):
    """A new concept: name, and an id suggested from it (editable). enter moves on/creates."""

    DEFAULT_CSS = """
    ConceptForm { align: center middle; }
    ConceptForm > Vertical {
        width: 60; max-width: 95%; height: auto; border: round $accent;
        background: $surface; padding: 0 1;
    }
    ConceptForm Input { margin: 0 0 0 0; }
    ConceptForm #concept-error { color: $error; height: auto; }
    ConceptForm .dialog-hint { color: $text-muted; }
    """
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, taken: set[str]) -> None:
        super().__init__()
        self.taken = taken
        self.id_edited = False
        self._suggesting = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]New concept[/b]")
            yield Static("name")
            yield Input(placeholder="e.g. Bike rider", id="concept-name")
            yield Static("id (suggested from the name)")
            yield Input(placeholder="bike_rider", id="concept-id")
            yield Static("", id="concept-error")
            yield Static("enter: next / create    esc: cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#concept-name", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "concept-name" and not self.id_edited:
            self._suggesting = True
            self.query_one("#concept-id", Input).value = concept_id_for(event.value)
        elif event.input.id == "concept-id":
            if self._suggesting:
                self._suggesting = False
            else:
                self.id_edited = True

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "concept-name":
            self.query_one("#concept-id", Input).focus()
            return
        name = self.query_one("#concept-name", Input).value.strip()
        concept_id = self.query_one("#concept-id", Input).value.strip()
        problem = concept_id_problem(concept_id, self.taken)
        if problem:
            self.query_one("#concept-error", Static).update(problem)
            return
        self.dismiss((concept_id, name or concept_id))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConceptsScreen(AreaScreen):
    AREA: ClassVar[str] = "concepts"
    BINDINGS: ClassVar = bindings_for("concepts")
    AUTO_FOCUS = "#concepts-table"

    DEFAULT_CSS = """
    ConceptsScreen #concepts-status { height: 1; background: $panel; padding: 0 1; }
    ConceptsScreen #concepts-table { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.concepts: list[Concept] = []
        self.people: dict[str, int] = {}
        self.models: dict[str, int] = {}
        self.capped = False
        # Not `loading`: that is Textual's Widget.loading, which covers the whole screen with a
        # LoadingIndicator and hides (so blurs) the table while a load runs.
        self.busy = False
        self._generation = 0
        self._app_id = ""

    def compose_body(self) -> ComposeResult:
        yield Static("", id="concepts-status")
        table: DataTable[Text | str] = RowTable(id="concepts-table", cursor_type="row")
        yield table

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("id", key="id", width=24)
        table.add_column("name", key="name", width=24)
        table.add_column("labelled", key="labelled", width=9)
        table.add_column("auto", key="auto", width=8)
        table.focus()
        self.reload()

    def on_session_changed(self) -> None:
        super().on_session_changed()
        if self.session.app_id != self._app_id or not self.concepts:
            self.reload()

    # -- loading ---------------------------------------------------------------------------

    def _status(self, text: str) -> None:
        self.query_one("#concepts-status", Static).update(Text(text, no_wrap=True))

    def reload(self) -> None:
        session = self.session
        self._app_id = session.app_id
        if session.client is None:
            self._status(session.waiting_text)
            return
        if not session.app_id:
            self._status("no app selected: ctrl+o picks or creates one (d there: the demo app)")
            return
        self.busy = True
        self._generation += 1
        self.run_worker(
            self._load(self._generation), group="concepts", exclusive=True, exit_on_error=False
        )

    async def _load(self, generation: int) -> None:
        try:
            client = self.session.app_client()
            self._status("loading concepts…")
            concepts = await app_concepts(client)
            self.concepts = concepts
            self._fill()
            self._status(f"{len(concepts)} concepts · counting labels…")
            self.people, self.models, self.capped = await count_labels(client)
            self._fill()
            self._status(self._status_text())
        finally:
            if generation == self._generation:  # a newer load may have replaced this one
                self.busy = False

    def _status_text(self) -> str:
        if not self.concepts:
            return "no concepts yet: n creates one, b several from one line"
        text = f"{len(self.concepts)} concepts · labelled = inputs labelled by people"
        if self.capped:
            text += f" · counted from the first {MAX_COUNTED} annotations"
        return text

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        selected = self.selected()
        table.clear()
        prefix = "≥" if self.capped else ""
        for concept in self.concepts:
            people = self.people.get(concept.id, 0)
            auto = self.models.get(concept.id, 0)
            table.add_row(
                Text(concept.id, no_wrap=True),
                Text(concept.name or concept.id, no_wrap=True),
                Text(f"{prefix}{people}", justify="right"),
                Text(f"{prefix}{auto}", justify="right"),
                key=concept.id,
            )
        if self.focused is None and self.app.screen is self:
            table.focus()
        if selected is not None and selected.id in table.rows:
            table.move_cursor(row=table.get_row_index(selected.id))

    def selected(self) -> Concept | None:
        table = self.query_one(DataTable)
        if not self.concepts or table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return next((c for c in self.concepts if c.id == key.value), None)

    def _ready(self) -> ClarifaiClient | None:
        try:
            return self.session.app_client()
        except RuntimeError as exc:
            self.notify(str(exc), severity="warning")
            return None

    def _work(self, work: object) -> None:
        self.run_worker(work, group="concepts-write", exit_on_error=False)  # type: ignore[arg-type]

    # -- actions ---------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.reload()

    def action_new_concept(self) -> None:
        client = self._ready()
        if client is None:
            return

        def created(result: tuple[str, str] | None) -> None:
            if result is None:
                return
            concept_id, name = result

            async def work() -> None:
                await client.create_concepts([Concept(concept_id, name=name)])
                self.notify(f"created {concept_id}")
                self.reload()

            self._work(work())

        self.app.push_screen(ConceptForm({c.id for c in self.concepts}), created)

    def action_bulk_create(self) -> None:
        client = self._ready()
        if client is None:
            return

        def entered(text: str | None) -> None:
            if not text:
                return
            names = split_names(text)
            have = {c.id for c in self.concepts}
            new: dict[str, Concept] = {}
            skipped: list[str] = []
            for name in names:
                concept_id = concept_id_for(name)
                if not concept_id or concept_id in have or concept_id in new:
                    skipped.append(name)
                    continue
                new[concept_id] = Concept(concept_id, name=name)

            async def work() -> None:
                if new:
                    await client.create_concepts(list(new.values()))
                message = f"created {len(new)}: {', '.join(new)}" if new else "nothing new"
                if skipped:
                    message += f" · already there: {', '.join(skipped)}"
                self.notify(message)
                self.reload()

            self._work(work())

        self.app.push_screen(
            PromptScreen(
                "New concepts, comma-separated",
                hint="e.g. walker, runner, bike_rider, rollerblader, stroller",
            ),
            entered,
        )

    def action_rename(self) -> None:
        client = self._ready()
        concept = self.selected()
        if client is None or concept is None:
            return

        def renamed(name: str | None) -> None:
            if not name or name == concept.name:
                return

            async def work() -> None:
                await client.patch_concepts([Concept(concept.id, name=name)])
                self.notify(f"{concept.id} is now named {name!r}")
                self.reload()

            self._work(work())

        self.app.push_screen(
            PromptScreen(f"Rename {concept.id} (the id stays)", value=concept.name), renamed
        )

    def action_delete(self) -> None:
        client = self._ready()
        concept = self.selected()
        if client is None or concept is None:
            return
        people = self.people.get(concept.id, 0)
        auto = self.models.get(concept.id, 0)
        message = (
            f"Clarifai cannot delete concepts (its API has no DeleteConcepts).\n\n"
            f"This removes {concept.id!r} from every annotation that uses it "
            f"({people} inputs labelled by people, {auto} by models); annotations left "
            f"with no concept are deleted. The concept stays in the list with no labels. "
            f"It cannot be undone."
        )

        def confirmed(yes: bool | None) -> None:
            if not yes:
                return

            async def work() -> None:
                self._status(f"removing {concept.id} from annotations…")
                patched, deleted = await remove_concept_everywhere(client, concept.id)
                self.notify(
                    f"{concept.id}: removed from {patched + deleted} annotations "
                    f"({deleted} deleted); the concept id stays in the app"
                )
                self.reload()

            self._work(work())

        self.app.push_screen(ConfirmScreen(f"Delete {concept.id}?", message), confirmed)

    def action_label(self) -> None:
        if self._ready() is None:
            return
        self.app.push_screen(make_screen("labelling"), lambda _result: self.reload())
