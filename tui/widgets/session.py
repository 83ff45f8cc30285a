"""What every screen gets from the shell: the session (client, profile, current app)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from api.client import ClarifaiClient


@dataclass
class Session:
    """The connection a screen works through. `client` is None until connected."""

    profile_name: str
    backend_label: str
    user_id: str = "me"
    app_id: str = ""
    client: ClarifaiClient | None = None
    error: str = ""

    @property
    def connected(self) -> bool:
        return self.client is not None

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

    def report_error(self, error: BaseException, *, context: str = "") -> None: ...

    def set_current_app(self, app_id: str) -> None: ...
