"""What every screen gets from the shell: the session (client, profile, current app)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from api.client import ClarifaiClient
    from api.explore import ModelNames


@dataclass
class Session:
    """The connection a screen works through. `client` is None until connected."""

    profile_name: str
    backend_label: str
    user_id: str = "me"
    app_id: str = ""
    client: ClarifaiClient | None = None
    error: str = ""
    #: While connecting: the latest retry of the first call ("retrying in 1.5 s (attempt 3 of
    #: 5): CONNECTION_FAILED: ..."), so that a slow or unreachable server is not a silent wait.
    retry_note: str = ""
    #: Rows per page of the Explorer (the config's `ui.per_page`).
    per_page: int = 50
    #: Model names by version id, per app (see ``model_names``).
    _model_names: dict[str, ModelNames] = field(default_factory=dict, repr=False)

    @property
    def embedded(self) -> bool:
        """The embedded backend (whose dry runs are known to write nothing)."""
        return self.backend_label == "embedded"

    @property
    def connected(self) -> bool:
        return self.client is not None

    @property
    def waiting_text(self) -> str:
        """What a screen shows until connected: the failure, else "connecting…" and the latest
        retry, if any."""
        if self.error:
            return self.error
        return f"connecting… {self.retry_note}" if self.retry_note else "connecting…"

    def model_names(self, app_id: str) -> ModelNames:
        """The names of an app's model versions, kept for the session (read again only when a
        version it does not know is asked for)."""
        from api.explore import ModelNames

        return self._model_names.setdefault(app_id, ModelNames())

    def app_client(self) -> ClarifaiClient:
        """The client bound to the current app; raises a clear error when there is none."""
        if self.client is None:
            raise RuntimeError(self.error or "not connected yet")
        if not self.app_id:
            raise RuntimeError("no app selected: press ctrl+o (or :app) to pick or create one")
        return self.client.with_app(self.app_id)


class Host(Protocol):
    """What screens may ask of the application shell."""

    session: Session
    #: The area screens mounted so far, by area id (they register themselves).
    areas: dict[str, Any]

    def report_error(self, error: BaseException, *, context: str = "") -> None: ...

    def set_current_app(self, app_id: str) -> None: ...
