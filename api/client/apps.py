"""Apps and the user: GetUser, ListApps, GetApp, PostApps, PatchApps (default workflow)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from api import wire
from api.client.core import DEFAULT_PER_PAGE, ClientCore
from api.errors import ApiError
from api.models import App, Page


class AppCalls(ClientCore):
    """The calls on the user and their apps."""

    async def get_user_id(self) -> str:
        """The real id of the key's owner (GetUser on `/v2/users/{user_id}`): annotations come
        back with it, not with `me`."""
        body = await self._call("GET", self._user_path())
        return wire.user_id_from(body) or self.user_id

    async def list_apps(self, *, page: int = 1, per_page: int = DEFAULT_PER_PAGE) -> Page[App]:
        return await self._list(
            self._user_path("apps"),
            "apps",
            wire.app_from,
            page=page,
            per_page=per_page,
        )

    def iter_apps(self, *, per_page: int = DEFAULT_PER_PAGE) -> AsyncIterator[App]:
        return self._iterate(lambda p, n: self.list_apps(page=p, per_page=n), per_page)

    async def get_app(self, app_id: str | None = None) -> App:
        target = app_id or self.app_id
        if not target:
            raise ValueError("get_app needs an app id")
        body = await self._call("GET", self._user_path("apps", target))
        return wire.app_from(wire.single(body, "app"))

    async def app_exists(self, app_id: str | None = None) -> bool:
        """Whether the app exists (GetApp); other failures are raised."""
        try:
            await self.get_app(app_id)
        except ApiError as exc:
            if exc.is_not_found:
                return False
            raise
        return True

    async def create_app(
        self,
        app_id: str,
        *,
        name: str = "",
        description: str = "",
        base_workflow: str = "Universal",
    ) -> App:
        """PostApps on `base_workflow` of clarifai/main (Universal: the public embedder indexes
        the app's inputs, which auto-annotation needs)."""
        body = await self._call(
            "POST",
            self._user_path("apps"),
            json=wire.post_apps_body(app_id, name, description, base_workflow),
        )
        apps = wire.items(body, "apps")
        return wire.app_from(apps[0]) if apps else App(id=app_id, name=name)

    async def patch_app(
        self,
        app_id: str | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        default_workflow_id: str | None = None,
        sample_ms: int | None = None,
    ) -> App:
        """Change an app's name, description, default workflow or video frame sampling."""
        target = app_id or self.app_id
        if not target:
            raise ValueError("patch_app needs an app id")
        body = await self._call(
            "PATCH",
            self._user_path("apps"),
            json=wire.patch_apps_body(
                target,
                name=name,
                description=description,
                default_workflow_id=default_workflow_id,
                sample_ms=sample_ms,
            ),
        )
        apps = wire.items(body, "apps")
        return wire.app_from(apps[0]) if apps else await self.get_app(target)

    async def set_default_workflow(self, workflow_id: str) -> App:
        """Make `workflow_id` the current app's default workflow.

        There is no "clear": on Clarifai an app always has a default workflow (its base
        workflow to begin with), and `default_workflow_id: ""` cannot be sent (proto3 cannot
        tell an empty string from a field not sent). To stop auto-annotation, make a workflow
        without writers the default."""
        return await self.patch_app(default_workflow_id=workflow_id)
