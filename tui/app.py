"""The application shell: six areas on number keys and `:` commands, the command palette,
the `?` help, the breadcrumb, remappable keys, and one place where failures become
notifications instead of a dead app."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tui.config import Config, ConfigError, Profile, save_config
from tui.widgets.area import AreaScreen
from tui.widgets.bindings import AREA_TITLES, GLOBAL_KEYS
from tui.widgets.help import HelpScreen
from tui.widgets.session import Session
from tui.widgets.text import safe

if TYPE_CHECKING:
    from api.retry import RetryNotice
    from tui.connect import Connection

log = logging.getLogger(__name__)

AREA_ALIASES = {
    "upload": "uploads",
    "concept": "concepts",
    "labels": "concepts",
    "label": "concepts",
    "model": "models",
    "workflow": "workflows",
    "graph": "workflows",
    "explore": "explorer",
    "inputs": "explorer",
    "reviews": "review",
}


def _area_screen(area: str) -> Screen[None]:
    """Build an area's screen; screens are imported only when first opened."""
    import importlib

    module = importlib.import_module(f"screens.{area}")
    cls = getattr(module, f"{area.capitalize()}Screen")
    screen: Screen[None] = cls()
    return screen


class ClarifaiTUI(App[int]):
    TITLE = "clarifai-tui"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar = [
        Binding(k.key, k.action, k.description, show=k.show, id=k.id, priority=k.priority)
        for k in GLOBAL_KEYS
    ]
    MODES: ClassVar = {area: partial(_area_screen, area) for area in AREA_TITLES}

    def __init__(
        self,
        config: Config,
        profile: Profile,
        *,
        app_id: str | None = None,
        start_area: str | None = None,
        connect: bool = True,
    ) -> None:
        super().__init__()
        self.config = config
        self.profile = profile
        self.start_area = start_area or config.ui.start_area
        self.session = Session(
            profile_name=profile.name,
            backend_label="embedded" if profile.is_local else profile.resolved_base_url(),
            user_id=profile.user_id,
            app_id=app_id or profile.app_id,
            per_page=config.ui.per_page,
        )
        self._connect_on_mount = connect
        self.connection: Connection | None = None
        self._remember_app = bool(app_id) and app_id != profile.app_id
        #: Areas shown before the current one, most recent last (escape goes back).
        self._visited: list[str] = []
        self.areas: dict[str, Any] = {}

    # ---------------------------------------------------------------- start and stop
    async def on_mount(self) -> None:
        if self.config.keymap:
            self.set_keymap(dict(self.config.keymap))
        if self.config.ui.theme in self.available_themes:
            self.theme = self.config.ui.theme
        else:
            self.notify(
                f"theme {self.config.ui.theme!r} is unknown; using {self.theme!r}. "
                "ctrl+p -> Theme lists them.",
                severity="warning",
            )
        await self.switch_mode(self.start_area)
        if self._connect_on_mount:
            self.run_worker(self._connect(), name="connect", exit_on_error=False, group="connect")

    async def _connect(self) -> None:
        from tui.connect import connect

        try:
            self.connection = await connect(self.profile, on_retry=self._connect_retrying)
        except Exception as exc:
            self.session.error = str(exc)
            self._session_changed()
            raise
        # Once connected, a failure that lasts is a notification (report_error), not a line.
        self.connection.client.set_retry_listener(None)
        self.session.client = self.connection.client
        self.session.user_id = self.connection.user_id
        self.session.error = ""
        self.session.retry_note = ""
        if self._remember_app:
            try:
                known = await self.connection.client.app_exists(self.session.app_id)
            except Exception as exc:  # a failed check must not stop the connection
                self.report_error(exc, context="checking the app")
                known = False
            if known:
                self.remember_app(self.session.app_id)
            else:
                self.notify(
                    f"no app {self.session.app_id!r}: not saved to the config; ctrl+o lists "
                    "the apps and creates one",
                    severity="error",
                )
        self._session_changed()
        if not self.session.app_id:
            # Nothing to work on yet: open the picker, which lists apps, creates one, and on
            # the local profile offers the demo app (handwritten digits) to an empty install.
            self.action_pick_app()

    def _connect_retrying(self, notice: RetryNotice) -> None:
        self.session.retry_note = notice.message
        self._session_changed()

    async def on_unmount(self) -> None:
        if self.connection is not None:
            await self.connection.aclose()
            self.connection = None

    def notify(self, message: str, *, title: str = "", **kwargs: Any) -> None:
        """Every notification goes through the sanitiser: messages quote server errors."""
        super().notify(safe(message), title=safe(title, one_line=True), **kwargs)

    # ---------------------------------------------------------------- the Host protocol
    def report_error(self, error: BaseException, *, context: str = "") -> None:
        """The one place failures turn into notifications (never a traceback, never a crash)."""
        message = getattr(error, "user_message", None) or str(error) or type(error).__name__
        title = getattr(error, "name", None) or type(error).__name__
        log.warning("%s failed: %s", context or "task", message)
        self.notify(str(message), title=str(title), severity="error", timeout=10)

    def set_current_app(self, app_id: str) -> None:
        self.session.app_id = app_id
        self.remember_app(app_id)
        self._session_changed()

    async def switch_to_app(self, app_id: str) -> bool:
        """Make `app_id` current if the backend knows it; an unknown id is refused before it
        reaches the session or the config (issue #30)."""
        client = self.session.client
        if client is None:
            self.notify(f"not connected yet: :app {app_id} needs the app list", severity="warning")
            return False
        try:
            exists = await client.app_exists(app_id)
        except Exception as exc:
            self.report_error(exc, context=f"checking app {app_id}")
            return False
        if not exists:
            self.notify(
                f"no app {app_id!r} for user {self.session.user_id}: ctrl+o lists the apps "
                "and creates one",
                severity="error",
            )
            return False
        self.set_current_app(app_id)
        return True

    async def sample_ms(self, value: str) -> None:
        """`:sample MS`: how often the current app's videos are sampled (the app's sample_ms,
        PatchApps), for videos processed from now on; `:sample` alone says what it is."""
        from api.models import SAMPLE_MS_RANGE

        if self.session.client is None or not self.session.app_id:
            self.notify(":sample needs a connected app (ctrl+o picks one)", severity="warning")
            return
        client = self.session.app_client()
        app_id = self.session.app_id
        low, high = SAMPLE_MS_RANGE
        try:
            if not value:
                current = await client.get_app(app_id)
                self.notify(
                    f"app {safe(app_id)}: videos are sampled every {current.frame_ms} ms "
                    f"(:sample MS changes it, {low} to {high})"
                )
                return
            if not value.isdigit() or not low <= int(value) <= high:
                self.notify(
                    f":sample takes milliseconds between sampled video frames, {low} to {high} "
                    f"(1000: one a second), not {safe(value, limit=20)!r}",
                    severity="error",
                )
                return
            await client.patch_app(app_id, sample_ms=int(value))
        except Exception as exc:
            self.report_error(exc, context=f"setting the sample rate of app {app_id}")
            return
        self.notify(
            f"app {safe(app_id)}: videos processed from now on are sampled every {value} ms"
        )

    def remember_app(self, app_id: str) -> None:
        """Keep the chosen app in the config so the next start opens it."""
        if not app_id or self.profile.app_id == app_id:
            return
        self.profile = replace(self.profile, app_id=app_id)
        self.config = self.config.with_profile(self.profile)
        try:
            save_config(self.config)
        except (OSError, ConfigError) as exc:
            self.notify(f"could not save the config: {exc}", severity="warning")

    def _session_changed(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, AreaScreen) and screen.is_mounted:
                screen.on_session_changed()

    # ---------------------------------------------------------------- actions
    async def action_area(self, area: str) -> None:
        if area not in AREA_TITLES:
            self.notify(f"no area named {area!r}", severity="error")
            return
        if self.current_mode != area:
            self._visited = [a for a in self._visited if a != self.current_mode]
            self._visited.append(self.current_mode)
            await self.switch_mode(area)

    async def action_back(self) -> None:
        """escape: back to the area shown before this one (as a browser's back)."""
        while self._visited:
            area = self._visited.pop()
            if area != self.current_mode and area in AREA_TITLES:
                await self.switch_mode(area)
                return

    async def action_quit(self) -> None:
        """ctrl+q: quit, but first ask when an area has unsaved edits or work in flight."""
        from tui.widgets.quit import QuitScreen

        if isinstance(self.screen, QuitScreen):  # ctrl+q twice: quit anyway
            self.exit(0)
            return
        pending = [
            item
            for area in self.areas.values()
            if isinstance(area, AreaScreen) and area.is_mounted
            for item in area.pending_work()
        ]
        if not pending:
            self.exit(0)
            return

        async def answered(answer: str | None) -> None:
            if answer == "quit":
                self.exit(0)
            elif answer == "save":
                for item in pending:
                    if item.save is not None and not await item.save():
                        self.notify("not everything was saved: still here", severity="error")
                        return
                self.exit(0)

        self.push_screen(QuitScreen(pending), answered)

    def action_command_line(self) -> None:
        screen = self.screen
        if isinstance(screen, AreaScreen):
            screen.open_command_line()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(dict(self.config.keymap)))

    def action_pick_app(self) -> None:
        from tui.widgets.app_picker import AppPicker

        if not any(isinstance(screen, AppPicker) for screen in self.screen_stack):
            self.push_screen(AppPicker(), self._picked_app)

    async def action_wizard(self) -> None:
        """Open the Models area and start the auto-annotation wizard there."""
        await self.action_area("models")
        await self.screen.run_action("wizard")

    def _picked_app(self, app_id: str | None) -> None:
        if app_id:
            self.set_current_app(app_id)

    async def action_run_command(self, text: str) -> None:
        """Run a `:` command: an area name, `app ID`, `apps`, `help`, `palette`, `q`."""
        words = text.strip().lstrip(":").split()
        if not words:
            return
        verb, args = words[0].lower(), words[1:]
        area = AREA_ALIASES.get(verb, verb)
        if area in AREA_TITLES:
            await self.action_area(area)
        elif verb in ("q!", "exit!"):
            self.exit(0)
        elif verb in ("q", "quit", "exit", "wq"):
            await self.action_quit()
        elif verb in ("help", "h", "keys"):
            self.action_help()
        elif verb in ("palette", "p"):
            self.action_command_palette()
        elif verb in ("app", "apps"):
            if args:
                await self.switch_to_app(args[0])
            else:
                self.action_pick_app()
        elif verb in ("sample", "sample_ms", "sample-ms"):
            await self.sample_ms(args[0] if args else "")
        else:
            known = ", ".join([*AREA_TITLES, "app ID", "sample MS", "help", "palette", "q"])
            self.notify(f"unknown command :{verb} (try {known})", severity="warning")

    # ---------------------------------------------------------------- palette
    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for number, (area, title) in enumerate(AREA_TITLES.items(), start=1):
            yield SystemCommand(
                f"Go to {title}",
                f"Open the {title} area (key {number}, :{area})",
                lambda area=area: self.run_action(f"area({area!r})"),
            )
        yield SystemCommand("Apps", "Pick or create an app (ctrl+o, :app)", self.action_pick_app)
        yield SystemCommand(
            "Auto-annotation wizard",
            "Concepts, classifier, thresholds, writers and the workflow in one guided pass",
            self.action_wizard,
        )
        yield SystemCommand("Help", "Every key binding and its id (?)", self.action_help)
        yield from self._screen_commands(screen)

    def _screen_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The keys of the screen under the palette (its own and its focused widget's) as
        commands, so "train" or "sort" finds what the footer may not have room for."""
        from textual.binding import Binding

        seen: set[str] = set()
        title = AREA_TITLES.get(getattr(screen, "AREA", ""), type(screen).__name__)
        for key, active in screen.active_bindings.items():
            binding, node = active.binding, active.node
            if node is self or not isinstance(binding, Binding) or not binding.description:
                continue
            if "." in binding.action.split("(")[0]:  # Textual's own (app.focus_next...)
                continue
            if binding.action in seen or not active.enabled:
                continue
            seen.add(binding.action)
            shown = self.get_key_display(binding) or key
            yield SystemCommand(
                f"{title}: {binding.description}",
                f"key {shown}",
                partial(self.run_action, binding.action, node),
            )
