"""ctrl+o: pick or create an app (id, name, input count, default workflow).

`n` opens the new-app row: a name and the base workflow the app is created on, one of the
public base workflows of `clarifai/main` (listed from the server, `Universal` first chosen:
its embedder indexes the inputs, which auto-annotation needs), as on the platform.

On the local profile, `d` builds the demo app from the handwritten digits that ship with
scikit-learn (`api.demo_setup`, the same code as `clarifai-tui demo`); an empty install
says so.
"""

from __future__ import annotations

import re
from typing import ClassVar, cast

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Select, Static
from textual.worker import Worker, WorkerState

from tui.config import Profile
from tui.widgets.area import bindings_for
from tui.widgets.session import Host
from tui.widgets.tables import RowTable
from tui.widgets.text import safe

#: The base workflow chosen until the server's list says otherwise (the platform's default).
BASE_WORKFLOW = "Universal"
APP_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")


def suggest_id(name: str) -> str:
    """`"Park Walkers 2"` -> `"park-walkers-2"`: a valid app id from a name."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:48] or "app"


class AppPicker(ModalScreen[str | None]):
    DEFAULT_CSS = """
    AppPicker { align: center middle; }
    AppPicker > Vertical {
        width: 76; max-width: 100%; height: 20; max-height: 100%;
        border: round $accent; background: $surface;
    }
    AppPicker DataTable { height: 1fr; }
    AppPicker #new-app { height: 3; }
    AppPicker #new-app Input { width: 1fr; }
    AppPicker #new-app Select { width: 24; }
    AppPicker #picker-status { height: 1; color: $text-muted; }
    """
    BINDINGS: ClassVar = bindings_for("apps")
    #: How long to wait for the server to process the demo's inputs before opening it.
    DEMO_WAIT: ClassVar[float] = 120.0

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Apps[/b]  enter open · n new · d demo · r reload · esc close")
            yield RowTable(id="apps", cursor_type="row")
            with Horizontal(id="new-app"):
                yield Input(placeholder="new app name (enter creates it)", id="new-name")
                yield Select(
                    [(BASE_WORKFLOW, BASE_WORKFLOW)],
                    value=BASE_WORKFLOW,
                    allow_blank=False,
                    id="base-workflow",
                )
            yield Static("", id="picker-status")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("id", "name", "inputs", "default workflow")
        self.query_one("#new-app").display = False
        self.load()

    @property
    def host(self) -> Host:
        return cast(Host, self.app)

    def _status(self, text: str) -> None:
        self.query_one("#picker-status", Static).update(text)

    @work(exclusive=True, exit_on_error=False, group="apps")
    async def load(self) -> None:
        session = self.host.session
        if session.client is None:
            self._status(session.waiting_text)
            return
        self._status("loading apps…")
        apps = await session.client.list_apps()
        table = self.query_one(DataTable)
        table.clear()
        for app in apps:
            count = ""
            try:
                counts = await session.client.with_app(app.id).get_input_count()
                # Every input, as the Explorer counts them; failed ones said apart.
                count = str(counts.total)
                if counts.errors:
                    count += f" ({counts.errors} failed)"
            except Exception:
                count = "?"
            current = " ◀" if app.id == session.app_id else ""
            table.add_row(
                safe(app.id, one_line=True) + current,
                safe(app.name, one_line=True),
                count,
                safe(app.default_workflow_label, one_line=True) or "—",
                key=app.id,
            )
        if apps:
            self._status(f"{len(apps)} apps")
        elif self._is_local():
            self._status("no apps yet: n creates one, or d builds a demo app of handwritten digits")
        else:
            self._status("no apps yet: press n to create one")
        table.focus()

    def _profile(self) -> Profile | None:
        profile = getattr(self.app, "profile", None)
        return profile if isinstance(profile, Profile) else None

    def _is_local(self) -> bool:
        profile = self._profile()
        return profile is not None and profile.is_local

    def action_demo(self) -> None:
        if not self._is_local():
            self._status("the demo is built on the local profile (or: clarifai-tui demo)")
            return
        self.build_demo()

    @work(exclusive=True, exit_on_error=False, group="apps")
    async def build_demo(self) -> None:
        from api.demo_setup import setup_demo
        from tui.demo import new_images_dir

        client = self.host.session.client
        profile = self._profile()
        if client is None or profile is None:
            self._status("not connected")
            return
        result = await setup_demo(
            client,
            new_images_dir=new_images_dir(profile),
            wait=self.DEMO_WAIT,
            progress=lambda text: self._status(f"demo: {text}…"),
        )
        self.app.notify(result.summary(), title="Demo app ready", timeout=15)
        self.dismiss(result.app_id)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self._status(f"failed: {event.worker.error}")
            self.host.report_error(event.worker.error, context="apps")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.dismiss(str(event.row_key.value))

    def action_new(self) -> None:
        self.query_one("#new-app").display = True
        self.query_one("#new-name", Input).focus()
        self.load_base_workflows()

    @work(exclusive=True, exit_on_error=False, group="base-workflows")
    async def load_base_workflows(self) -> None:
        """Offer the public base workflows of clarifai/main (ListWorkflows there)."""
        from api.models import PUBLIC_APP_ID, PUBLIC_USER_ID

        client = self.host.session.client
        if client is None:
            return
        public = client.for_app(PUBLIC_USER_ID, PUBLIC_APP_ID)
        try:
            page = await public.list_workflows(per_page=100)
        except Exception as exc:
            self._status(f"base workflows not listed ({safe(str(exc), one_line=True)}): Universal")
            return
        ids = [w.id for w in page] or [BASE_WORKFLOW]
        # the platform's default first, the rest as the server lists them
        ids.sort(key=lambda i: i != BASE_WORKFLOW)
        select: Select[str] = self.query_one("#base-workflow", Select)
        chosen = (
            select.value
            if select.value in ids
            else (BASE_WORKFLOW if BASE_WORKFLOW in ids else ids[0])
        )
        select.set_options([(safe(i, one_line=True), i) for i in ids])
        select.value = chosen

    def action_reload(self) -> None:
        self.load()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.value.strip()
        if not name:
            self._status("type a name for the new app")
            return
        self.create(name)

    @work(exclusive=True, exit_on_error=False, group="apps")
    async def create(self, name: str) -> None:
        client = self.host.session.client
        if client is None:
            self._status("not connected")
            return
        app_id = suggest_id(name)
        if not APP_ID_RE.match(app_id):
            self._status(f"cannot make a valid id from {name!r}")
            return
        base = self.query_one("#base-workflow", Select).value
        base_workflow = base if isinstance(base, str) else BASE_WORKFLOW
        await client.create_app(app_id, name=name, base_workflow=base_workflow)
        self.dismiss(app_id)
