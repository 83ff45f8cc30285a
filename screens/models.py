"""The Models area: embedders, classifiers, thresholders and annotation writers.

A table of the app's models (type, version, status, concepts), the selected model's details
below (its latest version, what it learnt from), `n` to create one with a form that fits its
type (PostModels, then its first version), `v` to make a new version from an edit of the
latest settings, `t` to train a classifier with live status, `d` to delete, `w` for the
wizard.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from api.autoannotate import (
    ANNOTATION_WRITER,
    CONCEPT_THRESHOLDER,
    EMBEDDING_CLASSIFIER,
    MODEL_TYPES,
    TYPE_TITLES,
    canonical_type,
    train_and_wait,
)
from api.models import Concept, Model, ModelVersion, ModelVersionStatus
from tui.widgets.area import AreaScreen
from tui.widgets.display import version_status
from tui.widgets.forms import ConfirmScreen, PickScreen, scoped_bindings
from tui.widgets.quit import Pending
from tui.widgets.registry import make_screen
from tui.widgets.tables import RowTable
from tui.widgets.text import safe
from tui.widgets.workflow_graph import SHORT_TYPES, settings_text, version_settings


def concepts_cell(model: Model) -> str:
    return settings_text(model.model_type_id, model.concepts, model.params)


def trains(model: Model) -> bool:
    return canonical_type(model.model_type_id) == EMBEDDING_CLASSIFIER


def status_cell(model: Model, version: ModelVersion | None) -> str:
    """A classifier's training state; an operator is `ready` once it has a version."""
    if version is None:
        return "not trained" if trains(model) else "no version: v"
    if not trains(model) and version.trained:
        return "ready"
    return version_status(version)


def version_line(model: Model, version: ModelVersion, *, latest: bool) -> str:
    """One version in the detail pane: id, status, settings, when made."""
    when = version.created_at.strftime("%Y-%m-%d %H:%M") if version.created_at else ""
    settings = version_settings(model, version)
    mark = "latest " if latest else ""
    status = status_cell(model, version).partition(":")[0]  # the reason is shown above
    return f"  {version.id[:8]}  {mark}{status}  {settings}  {when}".rstrip()


def describe_version(version: ModelVersion) -> list[str]:
    lines = [f"version {version.id[:8]}: {version_status(version)}"]
    if version.status_description and version.status_code != ModelVersionStatus.TRAINING_FAILED:
        lines[0] += f" ({version.status_description})"
    if version.total_input_count or version.concepts:
        learnt = ", ".join(c.id for c in version.concepts) or "-"
        lines.append(f"learnt from {version.total_input_count} inputs; concepts: {learnt}")
    if version.metrics:
        shown = ", ".join(
            f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
            for k, v in list(version.metrics.items())[:4]
            if not isinstance(v, dict | list)
        )
        if shown:
            lines.append(f"metrics: {shown}")
    return lines


def _order(model: Model) -> tuple[int, str]:
    kind = canonical_type(model.model_type_id)
    return (MODEL_TYPES.index(kind) if kind in MODEL_TYPES else len(MODEL_TYPES), model.id)


class ModelsScreen(AreaScreen):
    AREA: ClassVar[str] = "models"
    BINDINGS: ClassVar = scoped_bindings("models", "models.")
    DEFAULT_CSS = """
    ModelsScreen #models-table { height: 1fr; }
    ModelsScreen #model-detail {
        height: auto; max-height: 9; border-top: solid $panel-lighten-2; color: $text;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.models: list[Model] = []
        self.versions: dict[str, ModelVersion] = {}
        #: The newest versions of a model (its detail pane), loaded when it is highlighted.
        self.version_lists: dict[str, list[ModelVersion]] = {}
        self.training: set[str] = set()
        self.concepts: list[Concept] = []

    def compose_body(self) -> ComposeResult:
        yield RowTable(id="models-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="model-detail", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#models-table", DataTable)
        table.add_columns("id", "type", "version", "status", "concepts / settings")
        table.focus()
        self.action_refresh()

    def on_session_changed(self) -> None:
        super().on_session_changed()
        self.action_refresh()

    def on_screen_resume(self) -> None:
        if self.session.connected and self.session.app_id:
            self.action_refresh()

    # ------------------------------------------------------------------ loading
    def action_refresh(self) -> None:
        if not self.session.connected or not self.session.app_id:
            self.query_one("#model-detail", Static).update(
                self.session.waiting_text
                if not self.session.connected
                else "no app selected: ctrl+o picks or creates one"
            )
            return
        self.run_worker(self._load, group="load", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]

    async def _load(self) -> None:
        client = self.session.app_client()
        models = await client.list_models_with_config()
        concepts = [c async for c in client.iter_concepts()]
        # Everything is read before any of it is shown: `models` never lists a model whose
        # row the table does not have yet (a test that waited for one raced the fill).
        self.models = sorted(models, key=_order)
        for model in self.models:
            if model.version is not None and model.id not in self.training:
                self.versions[model.id] = model.version
        self.concepts = concepts
        self.version_lists.clear()  # a new version may have been made since
        self._fill()
        if (selected := self.selected_id()) is not None:
            await self._load_versions(selected)

    def _fill(self) -> None:
        table = self.query_one("#models-table", DataTable)
        keep = self.selected_id()
        table.clear()
        for model in self.models:
            version = self.versions.get(model.id)
            kind = canonical_type(model.model_type_id)
            table.add_row(
                model.id,
                SHORT_TYPES.get(kind, kind),
                version.id[:8] if version else "-",
                status_cell(model, version),
                concepts_cell(model),
                key=model.id,
            )
        if keep is not None and keep in {m.id for m in self.models}:
            table.move_cursor(row=table.get_row_index(keep))
        if not self.models:
            self.query_one("#model-detail", Static).update(
                "No models yet: n creates one, w runs the auto-annotation wizard."
            )
        else:
            self._show_detail()

    def selected_id(self) -> str | None:
        table = self.query_one("#models-table", DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return str(key.value) if key.value is not None else None

    def selected_model(self) -> Model | None:
        wanted = self.selected_id()
        return next((m for m in self.models if m.id == wanted), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()
        model = self.selected_model()
        if model is not None and model.id not in self.training:
            self.run_worker(
                self._load_versions(model.id), group="detail", exclusive=True, exit_on_error=False
            )

    async def _load_versions(self, model_id: str) -> None:
        """The highlighted model's newest versions with their settings (ListModelVersions)."""
        versions = await self.session.app_client().versions_with_config(model_id, limit=4)
        self.version_lists[model_id] = versions
        if versions and model_id not in self.training:
            self.versions[model_id] = versions[0]
            self._update_row(model_id)
        elif self.selected_id() == model_id:
            self._show_detail()

    def _show_detail(self) -> None:
        model = self.selected_model()
        detail = self.query_one("#model-detail", Static)
        if model is None:
            return
        kind = canonical_type(model.model_type_id)
        lines = [f"{model.id} — {TYPE_TITLES.get(kind, kind)} ({model.model_type_id})"]
        version = self.versions.get(model.id)
        if kind == EMBEDDING_CLASSIFIER:
            lines.append(f"learns: {', '.join(c.id for c in model.concepts) or '-'}")
            lines += describe_version(version) if version else ["not trained yet: t trains it"]
        elif version is None:
            lines.append("no version yet: v makes one from its settings")
        elif text := concepts_cell(model):
            lines.append(text)
        listed = self.version_lists.get(model.id) or []
        if listed:
            lines.append("versions, newest first (workflow nodes pin one; v makes a new one):")
            lines += [version_line(model, v, latest=i == 0) for i, v in enumerate(listed)]
        detail.update(safe("\n".join(lines)))

    def _update_row(self, model_id: str) -> None:
        table = self.query_one("#models-table", DataTable)
        version = self.versions.get(model_id)
        try:
            columns = list(table.columns)
            model = next(m for m in self.models if m.id == model_id)
            table.update_cell(model_id, columns[2], version.id[:8] if version else "-")
            table.update_cell(model_id, columns[3], status_cell(model, version))
        except Exception:
            return
        if self.selected_id() == model_id:
            self._show_detail()

    def pending_work(self) -> list[Pending]:
        if not self.training:
            return []
        names = ", ".join(sorted(self.training))
        where = "at the next start" if self.session.embedded else "on the platform"
        return [Pending(f"training {names}: it goes on {where}; only the live status stops")]

    # ------------------------------------------------------------------ actions
    def action_new_model(self) -> None:
        if not self._ready():
            return
        options = [(t, f"{TYPE_TITLES[t]}  ({t})") for t in MODEL_TYPES]
        self.app.push_screen(PickScreen("New model: which type?", options), self._picked_type)

    def _picked_type(self, model_type_id: str | None) -> None:
        if model_type_id:
            self.open_form(model_type_id)

    def open_form(self, model_type_id: str) -> None:
        form = make_screen(
            "model_form",
            model_type_id,
            self.session.app_client(),
            concepts=self.concepts,
            taken_ids={m.id for m in self.models},
            default_user=self.session.user_id,
        )
        self.app.push_screen(form, self._created)

    def _created(self, model: Model | None) -> None:
        if model is None:
            return
        made = f" (version {model.version.id[:12]})" if model.version is not None else ""
        self.app.notify(f"saved {model.id}{made}")
        self.action_refresh()

    def action_new_version(self) -> None:
        """A new version of the selected model from an edit of its latest settings
        (PostModelVersions): workflow nodes keep the version they pin until moved."""
        model = self.selected_model()
        if model is None or not self._ready():
            return
        kind = canonical_type(model.model_type_id)
        if kind not in (EMBEDDING_CLASSIFIER, CONCEPT_THRESHOLDER, ANNOTATION_WRITER):
            self.app.notify(f"{model.id} is a {model.model_type_id}: it takes no new versions here")
            return
        form = make_screen(
            "model_form",
            kind,
            self.session.app_client(),
            concepts=self.concepts,
            default_user=self.session.user_id,
            editing=model,
        )
        self.app.push_screen(form, self._created)

    def action_train(self) -> None:
        model = self.selected_model()
        if model is None:
            return
        if canonical_type(model.model_type_id) != EMBEDDING_CLASSIFIER:
            self.app.notify(f"{model.id} is a {model.model_type_id}: only classifiers train")
            return
        if model.id in self.training:
            self.app.notify(f"{model.id} is already training")
            return
        self.training.add(model.id)
        self.run_worker(
            self._train(model.id),
            name=f"train {model.id}",
            group=f"train-{model.id}",
            exit_on_error=False,
        )

    async def _train(self, model_id: str) -> None:
        def seen(version: ModelVersion) -> None:
            self.versions[model_id] = version
            self._update_row(model_id)

        try:
            client = self.session.app_client()
            configured = await client.get_model_output_info(model_id)
            version = await train_and_wait(client, model_id, configured.concepts, on_status=seen)
        except Exception as exc:
            self.app.notify(f"training {model_id}: {exc}", severity="error", timeout=10)
            return
        finally:
            self.training.discard(model_id)
        self.versions[model_id] = version
        self._update_row(model_id)
        await self._load_versions(model_id)
        self.app.notify(
            f"{model_id} trained: version {version.id} from {version.total_input_count} inputs"
        )

    def action_delete(self) -> None:
        model = self.selected_model()
        if model is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._delete(model.id), exit_on_error=False)

        self.app.push_screen(
            ConfirmScreen(
                f"Delete model {model.id}?",
                "Workflows that use it stop working. This cannot be undone.",
            ),
            answered,
        )

    async def _delete(self, model_id: str) -> None:
        await self.session.app_client().delete_model(model_id)
        self.app.notify(f"deleted {model_id}")
        await self._load()

    def action_wizard(self) -> None:
        if not self._ready():
            return
        self.app.push_screen(make_screen("wizard"), lambda _: self.action_refresh())

    def _ready(self) -> bool:
        try:
            self.session.app_client()
        except RuntimeError as exc:
            self.app.notify(str(exc), severity="warning")
            return False
        return True
