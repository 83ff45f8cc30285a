"""The auto-annotation wizard: one guided, keyboard-only flow from concepts to a default workflow.

Steps: concepts -> classifier and workflow ids -> high/low thresholds (a default each, per-concept
overrides) -> routing preset -> annotation user -> the plan (what is created, updated or
reused) -> run: create or update the models, train the classifier and wait, build the
workflow, dry-run it on a sample of the app's inputs and show the result, and only then ask
whether to make it the app's default workflow.

The plan comes from `api.autoannotate`: ids are derived from the workflow id, so running the
wizard again on the same app updates the same pieces instead of failing or duplicating them.

One module on purpose (issue #23): what can stand apart already does (the answers and the plan
in `api.wizard_plan`, the calls in `api.autoannotate`, the dry run's wording in
`tui.widgets.dry_run_text`); what is left is one screen whose steps read each other's inputs
(the overrides follow the concepts, the plan reads every step, the run reads the plan), so
split apart they would reach into each other's widgets.
"""

from __future__ import annotations

from typing import ClassVar, Final

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    ContentSwitcher,
    Footer,
    Input,
    Label,
    RadioSet,
    SelectionList,
    Static,
)

from api.autoannotate import (
    DEFAULT_HIGH,
    DEFAULT_LOW,
    DEFAULT_WORKFLOW_ID,
    PRESETS,
    REVIEW_BAND,
    TUTORIAL,
    WizardPlan,
    WizardSpec,
    apply_models,
    apply_workflow,
    fetch_state,
    plan,
    threshold_problem,
    train_and_wait,
)
from api.client import ClarifaiClient
from api.models import Concept, Model, ModelVersion, Workflow
from tui.widgets.display import version_status
from tui.widgets.dry_run_text import describe_results
from tui.widgets.forms import (
    ConfirmScreen,
    FormField,
    IdValidator,
    RequiredValidator,
    ThresholdValidator,
    error_text,
    scoped_bindings,
)
from tui.widgets.session import Host
from tui.widgets.text import safe
from tui.widgets.toggles import ClearRadioButton, ClearSelectionList

STEPS: Final = (
    ("step-concepts", "Concepts"),
    ("step-ids", "Ids"),
    ("step-thresholds", "Thresholds"),
    ("step-routing", "Routing"),
    ("step-user", "User"),
    ("step-plan", "Plan"),
    ("step-run", "Run"),
)
SAMPLE_SIZE: Final = 3


class WizardScreen(Screen[bool]):
    """Dismisses with True when the workflow was built (whether or not made the default)."""

    DEFAULT_CSS = """
    WizardScreen { layout: vertical; }
    WizardScreen #wizard-title { background: $panel; text-style: bold; padding: 0 1; }
    WizardScreen #wizard-steps { color: $text-muted; padding: 0 1; }
    WizardScreen ContentSwitcher { height: 1fr; padding: 0 1; }
    WizardScreen ContentSwitcher > * { height: 1fr; }
    WizardScreen .step-help { color: $text-muted; margin: 0 0 1 0; }
    WizardScreen SelectionList { height: 1fr; }
    WizardScreen .override-row { height: 1; }
    WizardScreen .override-row Label { width: 22; }
    WizardScreen .override-row Input { width: 12; height: 1; border: none; padding: 0 1; }
    WizardScreen .override-row Input:focus { border: none; background: $boost; }
    WizardScreen .override-row Input.-invalid { background: $error 30%; }
    WizardScreen #wizard-error { color: $text-error; height: auto; padding: 0 1; }
    WizardScreen #wizard-buttons { height: auto; padding: 0 1; }
    WizardScreen #wizard-buttons Button { margin: 0 1 0 0; min-width: 12; }
    WizardScreen #run-log { height: auto; }
    """
    BINDINGS: ClassVar = scoped_bindings("wizard", "wizard.")

    def __init__(self) -> None:
        super().__init__()
        self.step = 0
        self.concepts: list[Concept] = []
        self.models: dict[str, Model] = {}
        self.workflow_ids: set[str] = set()
        self.the_plan: WizardPlan | None = None
        self.running = False
        self.finished = False
        self.log_lines: list[str] = []
        self.training_line: int | None = None
        self.workflow: Workflow | None = None
        self.made_default: bool | None = None

    @property
    def host(self) -> Host:
        from typing import cast

        return cast(Host, self.app)

    def client(self) -> ClarifaiClient:
        return self.host.session.app_client()

    # ------------------------------------------------------------------ compose
    def compose(self) -> ComposeResult:
        yield Static("Auto-annotation wizard", id="wizard-title")
        yield Static("", id="wizard-steps", markup=False)
        with ContentSwitcher(initial="step-concepts"):
            with Vertical(id="step-concepts"):
                yield Static(
                    "Which concepts should be annotated automatically? The classifier learns "
                    "them from the inputs you labelled. space toggles.",
                    classes="step-help",
                )
                yield FormField("Concepts", ClearSelectionList[str](id="concepts"), name="concepts")
            with VerticalScroll(id="step-ids"):
                yield Static(
                    "Ids of the pieces. Running the wizard again with the same workflow id "
                    "updates them instead of making new ones.",
                    classes="step-help",
                )
                yield FormField(
                    "Workflow id",
                    Input(
                        DEFAULT_WORKFLOW_ID,
                        validators=[IdValidator(what="workflow id")],
                        id="workflow-id",
                    ),
                    name="workflow_id",
                    hint="models are named <workflow id>-<node>",
                )
                yield FormField(
                    "Classifier model id",
                    Input(
                        placeholder=f"{DEFAULT_WORKFLOW_ID}-classify",
                        validators=[IdValidator(what="model id")],
                        valid_empty=True,
                        id="classifier-id",
                    ),
                    name="classifier_id",
                    hint="blank: <workflow id>-classify",
                )
            with VerticalScroll(id="step-thresholds"):
                yield Static(
                    "Predictions above HIGH are written as SUCCESS; the band between LOW and "
                    "HIGH goes to review as PENDING. Overrides per concept: blank uses the "
                    "default.",
                    classes="step-help",
                )
                with Horizontal(classes="override-row"):
                    yield Label("default high / low")
                    yield Input(str(DEFAULT_HIGH), validators=[ThresholdValidator()], id="high")
                    yield Input(str(DEFAULT_LOW), validators=[ThresholdValidator()], id="low")
                yield Vertical(id="overrides")
            with Vertical(id="step-routing"):
                yield Static(
                    "Both send predictions above HIGH to a SUCCESS writer. Which predictions "
                    "go to review as PENDING?",
                    classes="step-help",
                )
                yield RadioSet(
                    ClearRadioButton(PRESETS[REVIEW_BAND], value=True, id="preset-review-band"),
                    ClearRadioButton(PRESETS[TUTORIAL], id="preset-tutorial"),
                    id="preset",
                )
            with Vertical(id="step-user"):
                yield Static(
                    "Annotations written by the workflow carry this user id.",
                    classes="step-help",
                )
                yield FormField(
                    "Annotation user",
                    Input(validators=[RequiredValidator("annotation user")], id="user"),
                    name="user",
                )
            with VerticalScroll(id="step-plan"):
                yield Static("", id="plan-text", markup=False)
            with VerticalScroll(id="step-run"):
                yield Static("", id="run-log", markup=False)
        yield Static("", id="wizard-error", markup=False)
        with Horizontal(id="wizard-buttons"):
            yield Button("Back (ctrl+b)", id="back", compact=True)
            yield Button("Next (ctrl+n)", id="next", variant="primary", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#user", Input).value = self.host.session.user_id
        self.show_step()
        self.run_worker(self._load(), group="load", exit_on_error=False)

    async def _load(self) -> None:
        try:
            client = self.client()
            self.concepts = [c async for c in client.iter_concepts()]
            self.models, self.workflow_ids = await fetch_state(client)
        except Exception as exc:
            self.error(f"could not read the app: {error_text(exc)}")
            return
        existing = self.models.get(f"{DEFAULT_WORKFLOW_ID}-classify")
        chosen = {c.id for c in existing.concepts} if existing else set()
        picker = self.query_one("#concepts", SelectionList)
        picker.clear_options()
        for concept in self.concepts:
            picker.add_option(
                (concept.name or concept.id, concept.id, not chosen or concept.id in chosen)
            )
        if not self.concepts:
            self.error("the app has no concepts: add and label some in Concepts (2) first")

    # ------------------------------------------------------------------ navigation
    def show_step(self) -> None:
        step_id, _ = STEPS[self.step]
        self.query_one(ContentSwitcher).current = step_id
        trail = "  ".join(
            f"[{n + 1} {title}]" if n == self.step else f"{n + 1} {title}"
            for n, (_, title) in enumerate(STEPS)
        )
        self.query_one("#wizard-steps", Static).update(trail)
        self.error("")
        next_label = {5: "Run (ctrl+n)", 6: "Done (ctrl+n)"}.get(self.step, "Next (ctrl+n)")
        self.query_one("#next", Button).label = next_label
        self.query_one("#back", Button).disabled = self.step == 0 or self.running
        focus = {
            "step-concepts": "#concepts",
            "step-ids": "#workflow-id",
            "step-thresholds": "#high",
            "step-routing": "#preset",
            "step-user": "#user",
        }.get(step_id, "#next")
        self.query_one(focus).focus()

    def error(self, text: str) -> None:
        self.query_one("#wizard-error", Static).update(text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "next":
            self.action_next()
        elif event.button.id == "back":
            self.action_back()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_next()

    def action_back(self) -> None:
        if self.running or self.step == 0:
            return
        if self.step == len(STEPS) - 1:  # after a failed run: re-read the app, re-plan
            self.step -= 2
            self.run_worker(self._refresh_state(), group="load", exit_on_error=False)
        else:
            self.step -= 1
        self.show_step()

    async def _refresh_state(self) -> None:
        self.models, self.workflow_ids = await fetch_state(self.client())

    def action_next(self) -> None:
        if self.running:
            return
        step_id = STEPS[self.step][0]
        if step_id == "step-run":
            self.action_close()
            return
        problem = self.check_step(step_id)
        if problem:
            self.error(problem)
            return
        if step_id == "step-concepts":
            self.build_overrides()
        if step_id == "step-user" and not self.make_plan():
            return
        if step_id == "step-plan":
            self.step += 1
            self.show_step()
            self.start_run()
            return
        self.step += 1
        self.show_step()

    def action_close(self) -> None:
        if self.running:
            self.error("the wizard is running; it stops when this step is done")
            return
        self.dismiss(self.workflow is not None)

    # ------------------------------------------------------------------ the answers
    def chosen_concepts(self) -> list[str]:
        return list(self.query_one("#concepts", SelectionList).selected)

    def build_overrides(self) -> None:
        box = self.query_one("#overrides", Vertical)
        keep: dict[str, tuple[str, str]] = {}
        for row in box.query(".override-row"):
            inputs = list(row.query(Input))
            keep[str(row.name)] = (inputs[0].value, inputs[1].value)
        box.remove_children()
        rows = []
        for n, concept in enumerate(self.chosen_concepts()):
            high, low = keep.get(concept, ("", ""))
            rows.append(
                Horizontal(
                    Label(f"  {concept}"[:22]),
                    Input(
                        high,
                        placeholder="high",
                        validators=[ThresholdValidator(allow_blank=True)],
                        id=f"high-{n}",
                    ),
                    Input(
                        low,
                        placeholder="low",
                        validators=[ThresholdValidator(allow_blank=True)],
                        id=f"low-{n}",
                    ),
                    classes="override-row",
                    name=concept,
                )
            )
        box.mount_all(rows)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id and event.input.id.split("-")[0] in ("high", "low"):
            result = event.validation_result
            event.input.set_class(result is not None and not result.is_valid, "-invalid")

    def overrides(self) -> tuple[dict[str, float], dict[str, float]]:
        highs: dict[str, float] = {}
        lows: dict[str, float] = {}
        for row in self.query_one("#overrides", Vertical).query(".override-row"):
            concept = str(row.name)
            high, low = (i.value.strip() for i in row.query(Input))
            if high:
                highs[concept] = float(high)
            if low:
                lows[concept] = float(low)
        return highs, lows

    def spec(self) -> WizardSpec:
        highs, lows = self.overrides()
        pressed = self.query_one("#preset", RadioSet).pressed_button
        preset = (
            TUTORIAL if pressed is not None and pressed.id == "preset-tutorial" else REVIEW_BAND
        )
        return WizardSpec(
            concepts=tuple(self.chosen_concepts()),
            annotation_user_id=self.query_one("#user", Input).value.strip(),
            high=float(self.query_one("#high", Input).value),
            low=float(self.query_one("#low", Input).value),
            high_overrides=highs,
            low_overrides=lows,
            preset=preset,
            workflow_id=self.query_one("#workflow-id", Input).value.strip(),
            classifier_id=self.query_one("#classifier-id", Input).value.strip(),
        )

    def check_step(self, step_id: str) -> str:
        """Why the current step cannot be left ("" when it can)."""
        if step_id == "step-concepts":
            return "" if self.chosen_concepts() else "pick at least one concept (space)"
        if step_id == "step-ids":
            ok = all(field.check() for field in self.query_one("#step-ids").query(FormField))
            return "" if ok else "fix the ids first"
        if step_id == "step-thresholds":
            boxes = [self.query_one("#high", Input), self.query_one("#low", Input)]
            for box in boxes:
                if problem := threshold_problem(box.value.strip()):
                    return f"{box.id}: {problem}"
            for row in self.query_one("#overrides", Vertical).query(".override-row"):
                for box in row.query(Input):
                    text = box.value.strip()
                    if text and (problem := threshold_problem(text)):
                        return f"{row.name} {box.placeholder}: {problem}"
            problems = self.spec().problems()
            bad = [
                v for k, v in problems.items() if k in ("high", "low") or k.startswith("concept:")
            ]
            return "; ".join(bad)
        if step_id == "step-user":
            return "" if self.query_one("#field-user", FormField).check() else "a user is needed"
        return ""

    def make_plan(self) -> bool:
        spec = self.spec()
        problems = spec.problems()
        if problems:
            self.error("; ".join(problems.values()))
            return False
        self.the_plan = plan(spec, self.models, self.workflow_ids)
        lines = [
            f"Workflow {spec.workflow_id}, preset {spec.preset}, concepts: "
            + ", ".join(spec.concepts),
            f"thresholds: high {spec.high:g}, low {spec.low:g}"
            + "".join(
                f"; {c} {spec.high_for(c):g}/{spec.low_for(c):g}"
                for c in spec.concepts
                if c in spec.high_overrides or c in spec.low_overrides
            ),
            f"annotations are written as {spec.annotation_user_id}",
            "",
            *self.the_plan.describe(),
            "",
            "Then: dry run on a sample (writes nothing), and a question before it becomes "
            "the app's default workflow.",
        ]
        self.query_one("#plan-text", Static).update(safe("\n".join(lines)))
        if self.the_plan.conflicts:
            self.error("; ".join(self.the_plan.conflicts))
            return False
        return True

    # ------------------------------------------------------------------ running
    def say(self, line: str) -> int:
        self.log_lines.append(line)
        self.query_one("#run-log", Static).update(safe("\n".join(self.log_lines)))
        scroller = self.query_one("#step-run", VerticalScroll)
        scroller.call_after_refresh(scroller.scroll_end, animate=False)
        return len(self.log_lines) - 1

    def _say_indented(self, text: str) -> None:
        self.say(f"  {text}")

    def set_line(self, index: int, line: str) -> None:
        self.log_lines[index] = line
        self.query_one("#run-log", Static).update(safe("\n".join(self.log_lines)))

    def start_run(self) -> None:
        self.running = True
        self.query_one("#back", Button).disabled = True
        self.log_lines = []
        self.run_worker(self._run(), name="wizard", group="run", exit_on_error=False)

    async def _run(self) -> None:
        assert self.the_plan is not None
        try:
            await self._build(self.the_plan)
        except Exception as exc:
            self.say(f"FAILED: {error_text(exc)}")
            self.say("Nothing after this step was done. ctrl+b goes back; running again resumes.")
            self.running = False
            self.query_one("#back", Button).disabled = False
            return
        self.running = False
        self.ask_default()

    async def _build(self, the_plan: WizardPlan) -> None:
        client = self.client()
        spec = the_plan.spec
        self.say("1/4 models")
        pinned = await apply_models(client, the_plan, self._say_indented)
        classifier = spec.model_id("classify")
        line = self.say(f"2/4 training {classifier}: starting")

        def seen(version: ModelVersion) -> None:
            learnt = f", {version.total_input_count} inputs" if version.total_input_count else ""
            self.set_line(
                line,
                f"2/4 training {classifier}: {version_status(version)} "
                f"(version {version.id[:12]}{learnt})",
            )

        learns = [Concept(c, name=c) for c in spec.concepts]
        version = await train_and_wait(client, classifier, learns, on_status=seen)
        seen(version)
        self.say(f"3/4 workflow {spec.workflow_id}: {the_plan.workflow_action}")
        self.workflow = await apply_workflow(client, the_plan, version.id, pinned)
        nodes = self.workflow.nodes or ()
        models, _ = await fetch_state(client)
        self.models = models
        sample = await client.list_inputs(per_page=SAMPLE_SIZE)
        self.say(f"4/4 dry run on {len(sample)} input(s) of the app")
        if sample:
            from api.models import InputRef

            results = await client.post_workflow_results(
                spec.workflow_id, [InputRef.existing(i.id) for i in sample], nodes=nodes
            )
            embedded = self.host.session.embedded
            for text in describe_results(results, nodes, models, embedded=embedded):
                self.say(f"  {text}" if text else "")
        else:
            self.say("  the app has no inputs to try it on")

    def ask_default(self) -> None:
        assert self.the_plan is not None
        workflow_id = self.the_plan.spec.workflow_id
        app_id = self.host.session.app_id

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._make_default(workflow_id), group="run", exit_on_error=False)
            else:
                self.made_default = False
                self.say(
                    f"Not made the default. Workflows (4) -> D makes {workflow_id} the default "
                    "later. ctrl+n closes."
                )

        self.app.push_screen(
            ConfirmScreen(
                f"Make {workflow_id} the default workflow of {app_id}?",
                f"It will run on EVERY new input added to {app_id} from now on: confident "
                "predictions are written as SUCCESS annotations, the unsure band as PENDING "
                "for review.",
            ),
            answered,
        )

    async def _make_default(self, workflow_id: str) -> None:
        try:
            await self.client().set_default_workflow(workflow_id)
        except Exception as exc:
            self.say(f"could not make it the default: {error_text(exc)}")
            return
        self.made_default = True
        self.say(
            f"{workflow_id} is now the default workflow: new inputs get SUCCESS and PENDING "
            "annotations. ctrl+n closes."
        )
