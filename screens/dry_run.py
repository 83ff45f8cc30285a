"""Dry run: run a saved workflow on a few inputs with PostWorkflowResults; nothing is written.

Inputs come from the app (pick with space), a file path or a URL. Per input the screen shows
each node's output: the concepts and values a classifier predicted, what passed each
thresholder, and what each writer *would* write (status, user, concepts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, RadioSet, SelectionList, Static

from api.client import ClarifaiClient
from api.models import InputRef, Model, WorkflowNode, WorkflowResult
from tui.widgets.dry_run_text import (
    PICKER_INPUTS,
    describe_results,
)
from tui.widgets.forms import error_text, scoped_bindings
from tui.widgets.text import safe
from tui.widgets.toggles import ClearRadioButton, ClearSelectionList


class DryRunScreen(Screen[None]):
    """Pick inputs and dry-run `workflow_id`."""

    DEFAULT_CSS = """
    DryRunScreen { layout: vertical; }
    DryRunScreen #dry-title { background: $warning 30%; text-style: bold; padding: 0 1; }
    DryRunScreen #dry-source { height: auto; }
    DryRunScreen .dry-row { height: auto; }
    DryRunScreen RadioSet { layout: horizontal; height: auto; width: 1fr; border: none; }
    DryRunScreen #dry-inputs { height: 5; }
    DryRunScreen #dry-location { display: none; }
    DryRunScreen.-location #dry-location { display: block; }
    DryRunScreen.-location #dry-inputs { display: none; }
    DryRunScreen #dry-results { height: 1fr; border-top: solid $panel-lighten-2; }
    DryRunScreen #dry-status { color: $text-muted; height: 1; padding: 0 1; }
    """
    BINDINGS: ClassVar = scoped_bindings("workflows", "dry_run.")

    def __init__(
        self,
        client: ClarifaiClient,
        workflow_id: str,
        nodes: Sequence[WorkflowNode],
        models: Mapping[str, Model],
        *,
        embedded: bool = True,
    ) -> None:
        super().__init__()
        self.client = client
        self.embedded = embedded
        self.workflow_id = workflow_id
        self.nodes = list(nodes)
        self.models = dict(models)
        self.lines: list[str] = []
        self.results: list[WorkflowResult] = []

    def compose(self) -> ComposeResult:
        promise = "nothing will be written" if self.embedded else "inputs are not added"
        yield Static(f"Dry run of workflow {self.workflow_id}: {promise}", id="dry-title")
        with Vertical(id="dry-source"):
            with Horizontal(classes="dry-row"):
                yield RadioSet(
                    ClearRadioButton("inputs from the app", value=True, id="source-app"),
                    ClearRadioButton("a file", id="source-file"),
                    ClearRadioButton("a URL", id="source-url"),
                    id="dry-source-kind",
                )
            yield ClearSelectionList[str](id="dry-inputs")
            yield Input(placeholder="path to an image file", id="dry-location")
        yield Static("space picks inputs; ctrl+r or f5 runs; esc closes", id="dry-status")
        with VerticalScroll(id="dry-results"):
            yield Static("", id="dry-output", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#dry-inputs", SelectionList).focus()
        self.run_worker(self._load_inputs(), group="inputs", exit_on_error=False)

    async def _load_inputs(self) -> None:
        page = await self.client.list_inputs(per_page=PICKER_INPUTS)
        # An input's labels are its annotations (ListInputs carries none): one call for all.
        labels: dict[str, list[str]] = {}
        if page:
            listed = await self.client.list_annotations(
                input_ids=[i.id for i in page], per_page=max(len(page) * 4, 128)
            )
            for annotation in listed:
                have = labels.setdefault(annotation.input_id, [])
                have += [c.id for c in annotation.concepts if c.value > 0 and c.id not in have]
        picker = self.query_one("#dry-inputs", SelectionList)
        picker.clear_options()
        for n, item in enumerate(page):
            label = ", ".join(labels.get(item.id, [])) or "no labels"
            text = safe(f"{item.id[:16]}  {label}", one_line=True, limit=70)
            picker.add_option((text, item.id, n < 3))
        if not page:
            self.status("the app has no inputs: use a file or a URL")

    def status(self, text: str) -> None:
        self.query_one("#dry-status", Static).update(text)

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        kind = event.pressed.id or "source-app"
        self.set_class(kind != "source-app", "-location")
        location = self.query_one("#dry-location", Input)
        location.placeholder = "path to an image file" if kind == "source-file" else "https://..."

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_run()

    def refs(self) -> list[InputRef]:
        kind = self.query_one("#dry-source-kind", RadioSet).pressed_button
        source = kind.id if kind is not None else "source-app"
        if source == "source-app":
            return [
                InputRef.existing(i) for i in self.query_one("#dry-inputs", SelectionList).selected
            ]
        text = self.query_one("#dry-location", Input).value.strip()
        if not text:
            raise ValueError("type a path or a URL first")
        if source == "source-url":
            if not text.startswith(("http://", "https://")):
                raise ValueError("a URL starts with http:// or https://")
            return [InputRef.from_url(text)]
        path = Path(text).expanduser()
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        return [InputRef.from_bytes(path.read_bytes())]

    def action_run(self) -> None:
        try:
            refs = self.refs()
        except (ValueError, OSError) as exc:
            self.status(str(exc))
            return
        if not refs:
            self.status("pick at least one input (space)")
            return
        self.status(f"running on {len(refs)} input(s)…")
        self.run_worker(self._run(refs), group="run", exclusive=True, exit_on_error=False)

    async def _run(self, refs: list[InputRef]) -> None:
        try:
            self.results = await self.client.post_workflow_results(
                self.workflow_id, refs, nodes=self.nodes
            )
        except Exception as exc:
            self.status(f"dry run failed: {error_text(exc)}")
            return
        self.lines = describe_results(self.results, self.nodes, self.models, embedded=self.embedded)
        self.query_one("#dry-output", Static).update(safe("\n".join(self.lines)))
        done = "Nothing was written." if self.embedded else "The inputs were not added."
        self.status(f"done: {len(self.results)} input(s). {done}")

    def action_close(self) -> None:
        self.dismiss(None)
