"""The frame every area shares: breadcrumb on top, the area's body, the `:` command line and
the footer; worker failures are forwarded to the shell's central error handler."""

from __future__ import annotations

from typing import ClassVar, cast

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerState

from tui.widgets.bindings import AREA_TITLES, area_keys
from tui.widgets.quit import Pending
from tui.widgets.session import Host, Session
from tui.widgets.text import safe


def bindings_for(area: str) -> list[BindingType]:
    """Textual bindings for an area's declared keys (ids make them remappable)."""
    specs = area_keys()[area]
    return [
        Binding(k.key, k.action, k.description, show=k.show, id=k.id, priority=k.priority)
        for k in specs
    ]


class Breadcrumb(Static):
    """`clarifai-tui › profile (backend) › app › Area` along the top."""

    DEFAULT_CSS = """
    Breadcrumb { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, area: str) -> None:
        super().__init__(id="breadcrumb")
        self.area = area

    def on_mount(self) -> None:
        self.refresh_text()

    def on_resize(self) -> None:
        self.refresh_text()

    def refresh_text(self) -> None:
        session = cast(Host, self.app).session
        backend = session.backend_label
        if session.error:
            backend += ", disconnected"
        app = safe(session.app_id, one_line=True) if session.app_id else "no app (ctrl+o)"
        area = AREA_TITLES.get(self.area, self.area)
        profile = safe(session.profile_name, one_line=True)
        # Most important last to go: the area, then the app; the width decides the rest
        # (at 60 columns a long app id or a remote URL pushed the area name off).
        room = self.content_region.width or 200
        for parts in (
            ("clarifai-tui", f"{profile} ({safe(backend, one_line=True)})", f"app: {app}"),
            (f"{profile}", f"app: {app}"),
            (f"app: {app}",),
            (app,),
        ):
            line = " › ".join((*parts, area))
            if len(line) <= room:
                break
        else:
            line = f"{app[: max(4, room - len(area) - 4)]}… › {area}"
        text = escape(line)
        text = text.replace("clarifai-tui ›", "[b]clarifai-tui[/b] ›", 1)
        self.update(text[: text.rindex(area)] + f"[b]{area}[/b]")


class AreaStrip(Static):
    """The six areas and their keys on one line, the current one highlighted (issue #26: a
    newcomer saw no list of areas anywhere). Narrow terminals get short names, never a
    wrapped line."""

    DEFAULT_CSS = """
    AreaStrip { height: 1; background: $boost; color: $text-muted; padding: 0 1; }
    """

    SHORT: ClassVar[dict[str, str]] = {
        "uploads": "Upl",
        "concepts": "Conc",
        "models": "Mod",
        "workflows": "Flow",
        "explorer": "Expl",
        "review": "Rev",
    }

    def __init__(self, area: str) -> None:
        super().__init__(id="area-strip")
        self.area = area

    def on_mount(self) -> None:
        self.refresh_text()

    def on_resize(self) -> None:
        self.refresh_text()

    def plain(self, width: int) -> list[tuple[str, bool]]:
        """(label, current) per area, in the longest form that fits `width` columns."""
        for names in (AREA_TITLES, self.SHORT):
            items = [(f"{n} {names[a]}", a == self.area) for n, a in enumerate(AREA_TITLES, 1)]
            if sum(len(t) + 2 for t, _ in items) + 8 <= width:
                return items
        return [(str(n), a == self.area) for n, a in enumerate(AREA_TITLES, 1)]

    def refresh_text(self) -> None:
        width = self.content_region.width or 200
        parts = [f"[reverse b] {t} [/]" if on else f" {t} " for t, on in self.plain(width)]
        self.update("".join(parts) + "  [dim]? keys[/]")


class CommandLine(Input):
    """The `:` line at the bottom: area names, `app ID`, `help`, `q`."""

    DEFAULT_CSS = """
    CommandLine { display: none; border: none; height: 1; padding: 0 1; }
    CommandLine:focus { border: none; }
    CommandLine.-open { display: block; }
    """
    BINDINGS: ClassVar = [Binding("escape", "close", "Close", show=False)]

    def __init__(self) -> None:
        super().__init__(placeholder=":explorer  :models  :app ID  :help  :q", id="command-line")
        self.disabled = True  # closed: not focusable, keys go to the area

    def open(self) -> None:
        self.value = ""
        self.disabled = False
        self.add_class("-open")
        self.focus()

    def action_close(self) -> None:
        self.remove_class("-open")
        self.value = ""
        self.disabled = True
        self.screen.focus_next()


class AreaScreen(Screen[None]):
    """Base class of the six areas."""

    AREA: ClassVar[str] = ""

    @property
    def host(self) -> Host:
        return cast(Host, self.app)

    @property
    def session(self) -> Session:
        return self.host.session

    def compose(self) -> ComposeResult:
        with Vertical(id="top-bar"):
            yield Breadcrumb(self.AREA)
            yield AreaStrip(self.AREA)
        with Vertical(id="area-body"):
            yield from self.compose_body()
        with Vertical(id="bottom-bar"):
            yield CommandLine()
            yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def pending_work(self) -> list[Pending]:
        """What a quit now would lose or interrupt (unsaved edits, work in flight): ctrl+q
        asks first when any area has some (see `tui.widgets.quit`)."""
        return []

    #: The (app id, connected) this screen last bound to; see `on_screen_resume`.
    _bound: tuple[str, bool] | None = None

    def _session_key(self) -> tuple[str, bool]:
        return (self.session.app_id, self.session.connected)

    def on_mount(self) -> None:
        self._bound = self._session_key()
        self.host.areas[self.AREA] = self

    def on_screen_resume(self) -> None:
        """Areas are Textual modes: one that is not showing is not in the current screen
        stack, so the shell's change notice misses it. Catch up on the way back in, so a
        header, its data and every action follow the app the session holds."""
        if self._bound is not None and self._bound != self._session_key():
            self.on_session_changed()

    def on_session_changed(self) -> None:
        """Called by the shell when the connection or the current app changes (and on
        resume, when it changed while this area was not showing). Subclasses re-bind here
        and call super()."""
        self._bound = self._session_key()
        self.query_one(Breadcrumb).refresh_text()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.host.report_error(event.worker.error, context=event.worker.name)

    def open_command_line(self) -> None:
        self.query_one(CommandLine).open()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        if isinstance(event.input, CommandLine):
            event.stop()
            text = event.value
            event.input.action_close()
            await self.app.run_action(f"run_command({text!r})")

    def placeholder(self, what: str) -> Widget:
        return Static(what, classes="placeholder")
