"""What a request handler may use of the embedded backend: the `Services` protocol.

`LocalBackend` (api/local/backend.py) builds the Starlette app and implements this; the app
and the HTTP layer know the backend only through it, so neither imports the module that
imports them (issue #23: backend <-> app <-> http was an import circle).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from api.local.automation import Automation
    from api.local.budget import PixelBudget
    from api.local.ingest import IngestWorker
    from api.local.store import Store
    from api.local.throttle import AuthThrottle

#: Checks that a workflow exists before it becomes an app's default (issue 6 sets this):
#: ``(user_id, app_id, workflow_id) -> None``, run in a thread, raising ApiFailure (22102).
DefaultWorkflowCheck = Callable[[str, str, str], None]


class Services(Protocol):
    user_id: str
    api_key: str
    store: Store
    ingest: IngestWorker
    automation: Automation
    decode_budget: PixelBudget
    auth_throttle: AuthThrottle
    default_workflow_check: DefaultWorkflowCheck | None

    async def start(self) -> None: ...

    async def stop(self, grace: float = 5.0) -> None: ...
