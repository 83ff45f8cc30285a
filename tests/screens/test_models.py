"""The Models area: a form per model type (valid, invalid, server error) and training."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from textual.app import App
from textual.widgets import DataTable, Input, RadioButton, RadioSet, SelectionList

from api.errors import ApiError
from api.models import Concept, Model, ModelVersion
from screens.model_forms import ModelForm
from screens.models import ModelsScreen
from tests.screens.labelled_data import APP, prepare
from tests.tui_helpers import connected, make_tui, wait_until
from tui.widgets.forms import FormField, PickScreen

CONCEPTS = [Concept("one"), Concept("two"), Concept("three")]


class StubClient:
    """Records the calls a form makes: PostModels (`create_model`) and PostModelVersions
    (`create_model_version`); raises `error` instead at the call named by `fails`, once."""

    def __init__(self, error: ApiError | None = None, fails: str = "version") -> None:
        self.error = error
        self.fails = fails
        self.calls: list[dict[str, Any]] = []

    def _maybe_fail(self, call: str) -> None:
        if self.error is not None and call == self.fails:
            error, self.error = self.error, None
            raise error

    async def create_model(self, model_id: str, *, model_type_id: str) -> Model:
        self.calls.append({"call": "model", "id": model_id, "type": model_type_id})
        self._maybe_fail("model")
        return Model(model_id, model_type_id=model_type_id)

    async def create_model_version(
        self,
        model_id: str,
        *,
        concepts: Sequence[Concept] | None = None,
        params: Mapping[str, Any] | None = None,
        with_values: bool = True,
    ) -> Model:
        self.calls.append(
            {
                "call": "version",
                "id": model_id,
                "concepts": concepts,
                "params": params,
                "with_values": with_values,
            }
        )
        self._maybe_fail("version")
        version = ModelVersion(f"{model_id}-v{len(self.calls)}", status_code=21100)
        return Model(model_id, concepts=tuple(concepts or ()), version=version)


class FormApp(App[None]):
    def __init__(self, model_type_id: str, client: StubClient) -> None:
        super().__init__()
        self.form = ModelForm(
            model_type_id,
            client,  # type: ignore[arg-type]
            concepts=CONCEPTS,
            taken_ids={"taken"},
            default_user="alice",
        )
        self.results: list[Model | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.form, self.results.append)


def error_of(app: FormApp, name: str) -> str:
    return app.form.query_one(f"#field-{name}", FormField).error


async def test_classifier_form_picks_concepts_and_validates_as_you_type() -> None:
    client = StubClient()
    app = FormApp("embedding-classifier", client)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"bad id")
        await pilot.pause()
        assert "letters, digits" in error_of(app, "id")
        app.form.query_one("#model-id", Input).value = ""
        await pilot.press(*"taken")
        await pilot.pause()
        assert "already taken" in error_of(app, "id")
        app.form.query_one("#model-id", Input).value = ""
        await pilot.press(*"my-classifier")
        await pilot.pause()
        assert error_of(app, "id") == ""
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "at least one concept" in error_of(app, "concepts")
        assert client.calls == []
        app.form.query_one("#concepts", SelectionList).focus()
        await pilot.press("space", "down", "down", "space")  # one, three
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.pause()
    # PostModels, then the version that trains on the concepts picked (issue #32)
    assert client.calls == [
        {"call": "model", "id": "my-classifier", "type": "embedding-classifier"},
        {
            "call": "version",
            "id": "my-classifier",
            "concepts": (Concept("one"), Concept("three")),
            "params": None,
            "with_values": False,
        },
    ]
    assert app.results and app.results[0] is not None and app.results[0].id == "my-classifier"


async def test_thresholder_form_default_and_per_concept_thresholds() -> None:
    client = StubClient()
    app = FormApp("concept-thresholder", client)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"band")
        form = app.form
        default = form.query_one("#default", Input)
        default.value = "1.5"
        await pilot.pause()
        assert "between 0 and 1" in error_of(app, "default")
        default.value = "0.5"
        await pilot.pause()
        assert error_of(app, "default") == ""
        form.query_one("#threshold-c1", Input).value = "2"
        await pilot.press("f2")
        await pilot.pause()
        assert "two:" in error_of(app, "concepts") and client.calls == []
        form.query_one("#threshold-c1", Input).value = "0.8"
        form.query_one("#comparator", RadioSet).query(RadioButton)[4].value = True
        await pilot.press("f2")
        await pilot.pause()
        await pilot.pause()
    model, call = client.calls
    assert model == {"call": "model", "id": "band", "type": "concept-thresholder"}
    assert call["params"] == {"concept_threshold_type": "LESS_THAN_OR_EQUAL"}
    assert [(c.id, c.value) for c in call["concepts"]] == [
        ("one", 0.5),
        ("two", 0.8),
        ("three", 0.5),
    ]


async def test_writer_form_server_error_lands_on_its_field() -> None:
    error = ApiError(
        21202,
        "output_info.params.annotation_user_id: expected a user id",
        name="MODEL_INVALID_ARGUMENT",
    )
    client = StubClient(error)
    app = FormApp("annotation-writer", client)
    async with app.run_test(size=(80, 24)) as pilot:
        form = app.form
        assert form.query_one("#user", Input).value == "alice"
        await pilot.press(*"writer")
        form.query_one("#status-pending", RadioButton).value = True
        form.query_one("#user", Input).value = ""
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "required" in error_of(app, "user") and client.calls == []
        form.query_one("#user", Input).value = "bob"
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.pause()
        assert "expected a user id" in error_of(app, "user")
        assert error_of(app, "id") == ""
        assert app.results == []  # still open
        # the model was made; its refused version is what a retry sends, alone
        assert "model writer created, but not its version" in str(
            form.query_one("#form-error").render()
        )
        assert form.query_one("#model-id", Input).disabled
        form.query_one("#user", Input).value = "carol"
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.pause()
    assert [c["call"] for c in client.calls] == ["model", "version", "version"]
    assert client.calls[1]["params"] == {"annotation_status": 24151, "annotation_user_id": "bob"}
    assert client.calls[2]["params"] == {"annotation_status": 24151, "annotation_user_id": "carol"}
    (made,) = app.results
    assert made is not None and made.version is not None


async def test_embedder_form_duplicate_id_from_the_server() -> None:
    client = StubClient(
        ApiError(21203, "model 'emb' already exists", name="MODEL_EXISTS"), fails="model"
    )
    app = FormApp("visual-embedder", client)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"emb", "enter")
        await pilot.pause()
        await pilot.pause()
        assert "already exists" in error_of(app, "id")


async def test_models_area_creates_a_classifier_and_trains_it_with_live_status(
    tmp_path: Path,
) -> None:
    await prepare(tmp_path, per_concept=8)
    app = make_tui(tmp_path, app_id=APP, area="models")
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        client = app.session.app_client()
        await wait_until(pilot, lambda: len(screen.concepts) == 3, what="the concepts")

        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen))
        await pilot.press("down", "enter")  # the second type: the classifier
        await wait_until(pilot, lambda: isinstance(app.screen, ModelForm))
        form = app.screen
        assert isinstance(form, ModelForm)
        await pilot.press(*"digits")
        # Meanwhile someone else takes the id: the server's refusal lands on the id field.
        await client.create_model("digits", model_type_id="visual-embedder")
        form.query_one("#concepts", SelectionList).select_all()
        await pilot.press("ctrl+s")
        field = form.query_one("#field-id", FormField)
        await wait_until(pilot, lambda: bool(field.error), what="the server error")
        assert "digits" in field.error
        form.query_one("#model-id", Input).value = "digits-classifier"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="created")
        await wait_until(
            pilot, lambda: "digits-classifier" in {m.id for m in screen.models}, what="listed"
        )
        table = screen.query_one("#models-table", DataTable)
        table.move_cursor(row=table.get_row_index("digits-classifier"))
        await pilot.press("t")
        await wait_until(pilot, lambda: "digits-classifier" in screen.versions, what="training")
        await wait_until(
            pilot, lambda: "digits-classifier" not in screen.training, timeout=60, what="trained"
        )
        version = screen.versions["digits-classifier"]
        assert version.trained, version
        assert table.get_row("digits-classifier")[3] == "trained"
        detail = str(screen.query_one("#model-detail").content)
        assert f"version {version.id[:8]}: trained" in detail
        assert "learnt from 24 inputs" in detail and "zero" in detail


async def test_v_form_starts_from_the_latest_settings_and_saves_a_new_version() -> None:
    """Issue #32: a changed threshold is a new version (PostModelVersions), never PostModels
    again nor PatchModels; the id is fixed."""
    client = StubClient()
    editing = Model(
        "band",
        model_type_id="concept-thresholder",
        concepts=(Concept("one", value=0.3), Concept("three", value=0.7)),
        params={"concept_threshold_type": "LESS_THAN"},
    )
    app = FormApp("concept-thresholder", client)
    app.form = ModelForm(
        "concept-thresholder",
        client,  # type: ignore[arg-type]
        concepts=CONCEPTS,
        taken_ids={"band"},
        editing=editing,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        form = app.form
        assert form.query_one("#model-id", Input).disabled
        assert form.query_one("#threshold-c0", Input).value == "0.3"
        assert form.query_one("#threshold-c2", Input).value == "0.7"
        assert set(form.query_one("#concepts", SelectionList).selected) == {"one", "three"}
        form.query_one("#threshold-c2", Input).value = "0.6"
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.pause()
    (call,) = client.calls
    assert call["call"] == "version" and call["params"] == {"concept_threshold_type": "LESS_THAN"}
    assert [(c.id, c.value) for c in call["concepts"]] == [("one", 0.3), ("three", 0.6)]


async def test_models_area_lists_each_models_versions_with_their_settings(
    tmp_path: Path,
) -> None:
    """Issue #32: an operator's row shows its latest version (or that it has none), and the
    detail pane lists its versions newest first, each with its own thresholds; `v` adds one."""
    await prepare(tmp_path, per_concept=1)
    app = make_tui(tmp_path, app_id=APP, area="models")
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        client = app.session.app_client()
        await client.create_model("band", model_type_id="concept-thresholder")
        await client.create_model("bare", model_type_id="concept-thresholder")
        older = await client.create_model_version(
            "band", concepts=[Concept("one", value=0.8)], params={"concept_threshold_type": 1}
        )
        newer = await client.create_model_version(
            "band", concepts=[Concept("one", value=0.95)], params={"concept_threshold_type": 1}
        )
        assert older.version is not None and newer.version is not None
        await pilot.press("r")
        await wait_until(pilot, lambda: {"band", "bare"} <= {m.id for m in screen.models})
        table = screen.query_one("#models-table", DataTable)
        await wait_until(pilot, lambda: table.row_count == len(screen.models))
        assert table.get_row("bare")[2:4] == ["-", "no version: v"]
        assert table.get_row("band")[2:4] == [newer.version.id[:8], "ready"]

        table.move_cursor(row=table.get_row_index("band"))
        await wait_until(pilot, lambda: len(screen.version_lists.get("band", [])) == 2)
        detail = str(screen.query_one("#model-detail").content)
        lines = detail.splitlines()
        first = next(i for i, line in enumerate(lines) if newer.version.id[:8] in line)
        second = next(i for i, line in enumerate(lines) if older.version.id[:8] in line)
        assert first < second, detail
        assert "latest ready" in lines[first] and "one>0.95" in lines[first], detail
        assert "one>0.80" in lines[second] and "latest" not in lines[second], detail

        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelForm))
        form = app.screen
        assert isinstance(form, ModelForm)
        assert form.query_one("#threshold-c1", Input).value == "0.95"  # "one"
        form.query_one("#threshold-c1", Input).value = "0.9"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="saved")
        await wait_until(pilot, lambda: len(screen.version_lists.get("band", [])) == 3)
        newest = screen.version_lists["band"][0]
        assert [(c.id, c.value) for c in newest.concepts] == [("one", 0.9)]
        assert table.get_row("band")[2] == newest.id[:8]
