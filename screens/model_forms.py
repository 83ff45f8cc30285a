"""The form that creates a model, or a new version of one, shaped by its type.

A model is made the platform's way: PostModels (the model), then PostModelVersions with its
configuration (a thresholder's or writer's version is ready at once; a classifier's version
trains on the concepts picked, so creating a classifier starts its training). Opened on an
existing model (`editing`), the form starts from its latest version's settings and saves a
new version; the id is fixed.

- classifier (`embedding-classifier`): the concepts it learns, picked from the app's list;
- thresholder (`concept-thresholder`): the comparator (all six) and a threshold per concept,
  with one default applied to every concept left blank;
- writer (`annotation-writer`): SUCCESS or PENDING, and the annotation user (default: you);
- embedder (`visual-embedder`): just an id.

Fields validate as you type; the server's refusal comes back on the field it concerns (from
the wire path or words in its description), else under the form.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, SelectionList, Static

from api.autoannotate import (
    ANNOTATION_WRITER,
    CONCEPT_THRESHOLDER,
    DEFAULT_HIGH,
    EMBEDDING_CLASSIFIER,
    TYPE_TITLES,
    VISUAL_EMBEDDER,
    comparator_of,
    threshold_problem,
    writer_status_of,
)
from api.client import ClarifaiClient
from api.errors import ApiError
from api.models import AnnotationStatus, Concept, Model, ValueComparator
from tui.widgets.forms import (
    FormField,
    IdValidator,
    RequiredValidator,
    ThresholdValidator,
    error_text,
    field_for_error,
    scoped_bindings,
)
from tui.widgets.toggles import ClearRadioButton, ClearSelectionList

#: Which form field a server error concerns: field -> keywords of its description.
ERROR_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("model id", "already exists", "already present", "duplicate", "invalid id", "model.id"),
    "type": ("model_type_id", "model type"),
    "concepts": ("output_info.data.concepts", "concepts", "concept"),
    "comparator": ("concept_threshold_type", "comparator"),
    "default": ("threshold",),
    "status": ("annotation_status",),
    "user": ("annotation_user_id", "user id", "user"),
}

COMPARATORS: tuple[ValueComparator, ...] = tuple(ValueComparator)


@dataclass(frozen=True)
class ModelDraft:
    """What the form would send: the model (PostModels) and its version's configuration
    (PostModelVersions)."""

    id: str
    model_type_id: str
    concepts: tuple[Concept, ...] | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _safe(index: int) -> str:
    return f"c{index}"


class ModelForm(ModalScreen[Model | None]):
    """Create one model of `model_type_id` (or, with `editing`, a new version of that model);
    dismisses with the model as answered (its new version in `version`), or None."""

    DEFAULT_CSS = """
    ModelForm { align: center middle; }
    ModelForm > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    ModelForm #form-title { text-style: bold; }
    ModelForm #form-body { height: auto; max-height: 18; }
    ModelForm SelectionList { height: auto; max-height: 7; }
    ModelForm RadioSet { width: 1fr; }
    ModelForm .threshold-row { height: 1; }
    ModelForm .threshold-row Label { width: 24; }
    ModelForm .threshold-row Input { width: 12; height: 1; border: none; padding: 0 1; }
    ModelForm .threshold-row Input:focus { border: none; background: $boost; }
    ModelForm .threshold-row Input.-invalid { background: $error 30%; }
    ModelForm #form-error { color: $text-error; height: auto; }
    ModelForm #form-buttons { height: auto; }
    ModelForm #form-buttons Button { margin: 0 1 0 0; min-width: 10; }
    """
    BINDINGS: ClassVar = scoped_bindings("models", "model_form.")

    def __init__(
        self,
        model_type_id: str,
        client: ClarifaiClient,
        *,
        concepts: Sequence[Concept] = (),
        taken_ids: Collection[str] = (),
        default_user: str = "",
        editing: Model | None = None,
    ) -> None:
        super().__init__()
        self.model_type_id = model_type_id
        self.client = client
        self.editing = editing
        self.app_concepts = list(concepts)
        if editing is not None:  # its concepts are listed even if the app lost one since
            known = {c.id for c in self.app_concepts}
            self.app_concepts += [Concept(c.id, name=c.name) for c in editing.concepts
                                  if c.id not in known]  # fmt: skip
        self.taken_ids = set(taken_ids)
        self.default_user = default_user
        self.saving = False
        #: Set once PostModels answered: a retry after a refused version makes only the version.
        self.created: Model | None = None

    # ------------------------------------------------------------------ compose
    def compose(self) -> ComposeResult:
        title = TYPE_TITLES.get(self.model_type_id, self.model_type_id)
        if self.editing is not None:
            heading = f"New version of {self.editing.id} ({title})"
            save = "Save new version (ctrl+s)"
        else:
            heading = f"New {title} ({self.model_type_id})"
            trains = self.model_type_id == EMBEDDING_CLASSIFIER
            save = "Create and train (ctrl+s)" if trains else "Create (ctrl+s)"
        with Vertical():
            yield Static(heading, id="form-title", markup=False)
            with VerticalScroll(id="form-body"):
                yield FormField(
                    "Model id",
                    Input(
                        self.editing.id if self.editing is not None else "",
                        placeholder="e.g. my-classifier",
                        validators=[IdValidator(lambda: self.taken_ids, what="model id")],
                        id="model-id",
                        disabled=self.editing is not None,
                    ),
                    name="id",
                )
                yield from self._type_fields()
            yield Static("", id="form-error", markup=False)
            with Horizontal(id="form-buttons"):
                yield Button(save, id="save", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def _type_fields(self) -> ComposeResult:
        kind = self.model_type_id
        if kind == EMBEDDING_CLASSIFIER:
            yield FormField(
                "Concepts it learns",
                ClearSelectionList[str](
                    *((c.name or c.id, c.id, c.id in self._had) for c in self.app_concepts),
                    id="concepts",
                ),
                name="concepts",
                hint="space toggles" if self.app_concepts else "the app has no concepts yet",
            )
        elif kind == CONCEPT_THRESHOLDER:
            yield FormField(
                "Comparator: keep concepts whose value ... threshold",
                RadioSet(
                    *(ClearRadioButton(c.name, value=c is self._comparator) for c in COMPARATORS),
                    id="comparator",
                ),
                name="comparator",
            )
            yield FormField(
                "Default threshold (applied to every concept left blank)",
                Input(str(DEFAULT_HIGH), validators=[ThresholdValidator()], id="default"),
                name="default",
                hint="0 <= t <= 1",
            )
            yield FormField(
                "Concepts and thresholds",
                ClearSelectionList[str](
                    *(
                        (c.name or c.id, c.id, self.editing is None or c.id in self._had)
                        for c in self.app_concepts
                    ),
                    id="concepts",
                ),
                name="concepts",
                hint="space toggles; a blank threshold uses the default",
            )
            with Vertical(id="thresholds"):
                for index, concept in enumerate(self.app_concepts):
                    with Horizontal(classes="threshold-row"):
                        yield Label(f"  {concept.id}"[:24])
                        yield Input(
                            self._had.get(concept.id, ""),
                            placeholder="default",
                            validators=[ThresholdValidator(allow_blank=True)],
                            id=f"threshold-{_safe(index)}",
                        )
        elif kind == ANNOTATION_WRITER:
            params = self.editing.params if self.editing is not None else {}
            pending = writer_status_of(params) == AnnotationStatus.PENDING
            user = str(params.get("annotation_user_id") or self.default_user)
            yield FormField(
                "Annotation status",
                RadioSet(
                    ClearRadioButton("SUCCESS (accepted)", value=not pending, id="status-success"),
                    ClearRadioButton("PENDING (review queue)", value=pending, id="status-pending"),
                    id="status",
                ),
                name="status",
            )
            yield FormField(
                "Annotation user",
                Input(user, validators=[RequiredValidator("user")], id="user"),
                name="user",
                hint="annotations are written as this user",
            )
        elif kind == VISUAL_EMBEDDER:
            yield Static("An embedder needs nothing but an id.", classes="dialog-hint")

    @property
    def _had(self) -> dict[str, str]:
        """The edited model's concepts -> their value as text (its thresholds)."""
        if self.editing is None:
            return {}
        return {c.id: f"{c.value:g}" for c in self.editing.concepts}

    @property
    def _comparator(self) -> ValueComparator:
        if self.editing is None:
            return ValueComparator.GREATER_THAN
        found = comparator_of(self.editing.params)
        return found if found in COMPARATORS else ValueComparator.GREATER_THAN

    def on_mount(self) -> None:
        if self.editing is None:
            self.query_one("#model-id", Input).focus()
        else:
            self.focus_next()

    # ------------------------------------------------------------------ reading the form
    def field(self, name: str) -> FormField:
        return self.query_one(f"#field-{name}", FormField)

    def collect(self) -> ModelDraft | None:
        """The draft, or None after showing every problem on its field."""
        ok = self.editing is not None or self.created is not None or self.field("id").check()
        model_id = self.query_one("#model-id", Input).value.strip()
        kind = self.model_type_id
        if kind == EMBEDDING_CLASSIFIER:
            chosen = self.query_one("#concepts", SelectionList).selected
            if not chosen:
                self.field("concepts").set_error("pick at least one concept")
                ok = False
            else:
                self.field("concepts").set_error(None)
            return ModelDraft(model_id, kind, tuple(Concept(c) for c in chosen)) if ok else None
        if kind == CONCEPT_THRESHOLDER:
            ok = self.field("default").check() and ok
            default = float(self.query_one("#default", Input).value) if ok else DEFAULT_HIGH
            picked = set(self.query_one("#concepts", SelectionList).selected)
            thresholds: list[Concept] = []
            bad: list[str] = []
            for index, concept in enumerate(self.app_concepts):
                box = self.query_one(f"#threshold-{_safe(index)}", Input)
                text = box.value.strip()
                if text and (problem := threshold_problem(text)):
                    bad.append(f"{concept.id}: {problem}")
                    box.add_class("-invalid")
                    continue
                box.remove_class("-invalid")
                if concept.id in picked:
                    thresholds.append(Concept(concept.id, value=float(text) if text else default))
            if bad:
                self.field("concepts").set_error("; ".join(bad))
                ok = False
            elif not thresholds:
                self.field("concepts").set_error("pick at least one concept")
                ok = False
            else:
                self.field("concepts").set_error(None)
            index = self.query_one("#comparator", RadioSet).pressed_index
            comparator = COMPARATORS[index] if index >= 0 else ValueComparator.GREATER_THAN
            params: dict[str, Any] = {"concept_threshold_type": comparator.name}
            return ModelDraft(model_id, kind, tuple(thresholds), params) if ok else None
        if kind == ANNOTATION_WRITER:
            ok = self.field("user").check() and ok
            pending = self.query_one("#status-pending", RadioButton).value
            status = AnnotationStatus.PENDING if pending else AnnotationStatus.SUCCESS
            user = self.query_one("#user", Input).value.strip()
            writer: dict[str, Any] = {"annotation_status": int(status), "annotation_user_id": user}
            return ModelDraft(model_id, kind, None, writer) if ok else None
        return ModelDraft(model_id, kind) if ok else None

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id and event.input.id.startswith("threshold-"):
            result = event.validation_result
            event.input.set_class(result is not None and not result.is_valid, "-invalid")

    # ------------------------------------------------------------------ actions
    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        if self.saving:
            return
        self.query_one("#form-error", Static).update("")
        draft = self.collect()
        if draft is None:
            return
        self.saving = True
        self.run_worker(self._create(draft), name="create model", exit_on_error=False)

    async def _create(self, draft: ModelDraft) -> None:
        """PostModels (unless the model exists), then PostModelVersions with the
        configuration (none for an embedder: the platform trains no app-local one)."""
        try:
            model = self.editing or self.created
            if model is None:
                model = await self.client.create_model(draft.id, model_type_id=draft.model_type_id)
                self.created = model
                self.query_one("#model-id", Input).disabled = True
            if draft.model_type_id != VISUAL_EMBEDDER:
                model = await self.client.create_model_version(
                    draft.id,
                    concepts=draft.concepts,
                    params=draft.params or None,
                    with_values=draft.model_type_id != EMBEDDING_CLASSIFIER,
                )
        except Exception as exc:
            self.saving = False
            self.show_server_error(exc)
            return
        self.dismiss(model)

    def show_server_error(self, error: BaseException) -> None:
        """Put a refusal on the field it concerns (else under the form)."""
        if self.created is not None and self.editing is None:
            prefix = f"model {self.created.id} created, but not its version"
        else:
            prefix = "not saved" if self.editing is not None else "not created"
        name = field_for_error(error, ERROR_FIELDS)
        if name is not None and self.query(f"#field-{name}"):
            target = self.field(name)
            target.set_error(error_text(error))
            self.query_one("#form-body", VerticalScroll).scroll_to_widget(target, animate=False)
            self.query_one("#form-error", Static).update(f"{prefix}: see {name}")
        else:
            self.query_one("#form-error", Static).update(f"{prefix}: {error_text(error)}")
        if isinstance(error, ApiError) and error.retryable:
            self.query_one("#form-error", Static).update(f"{prefix}: {error}")
