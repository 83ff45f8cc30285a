"""Turn a profile into a connected API client: the embedded backend in-process, or a base URL.

This is where the shell wires `api.local` to `api.client`; screens only ever see the client.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tui.config import APP_NAME, ENV_PAT, Config, Profile

if TYPE_CHECKING:
    from api.client import ClarifaiClient
    from api.local.backend import LocalBackend
    from api.retry import RetryNotice, RetryPolicy


class ConnectError(Exception):
    """A profile that cannot be connected, with what to do about it."""


@dataclass
class Connection:
    client: ClarifaiClient
    label: str
    user_id: str
    backend: LocalBackend | None = None

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.backend is not None:
            await self.backend.stop()
            self.backend = None


async def connect(
    profile: Profile,
    *,
    owner: str = "tui",
    on_retry: Callable[[RetryNotice], None] | None = None,
    require_reachable: bool = False,
    retry: RetryPolicy | None = None,
) -> Connection:
    """Open the profile's backend and client. Raises ConnectError with a hint on failure.

    ``on_retry`` hears of every retry of the remote client from the start (its first call,
    which learns the user id, included): see ``ClarifaiClient.set_retry_listener``. With
    ``require_reachable`` (a one-shot command), a remote server that cannot be reached by that
    first call, retries included, is a ConnectError; the TUI opens anyway and lets each screen
    say so. ``retry`` replaces the remote client's retry policy (tests)."""
    import httpx

    from api.client import ClarifaiClient
    from api.errors import ApiConnectionError, ApiError

    app_id = profile.app_id or None
    if profile.is_local:
        from api.local.backend import DataDirLocked, LocalBackend

        backend = LocalBackend(profile.resolved_data_dir(), owner=owner)
        try:
            await backend.start()
        except DataDirLocked as exc:
            raise ConnectError(str(exc)) from None
        client = ClarifaiClient(
            base_url="http://embedded",
            api_key=backend.api_key,
            user_id="me",
            app_id=app_id,
            transport=httpx.ASGITransport(app=backend.app),
        )
        return Connection(client=client, label="embedded", user_id=backend.user_id, backend=backend)
    pat = profile.resolved_pat()
    if not pat:
        raise ConnectError(
            f"profile {profile.name!r} needs a personal access token: "
            f"export {ENV_PAT}=... (create one in Clarifai under Settings > Secrets)"
        )
    base_url = profile.resolved_base_url()
    client = ClarifaiClient(
        base_url=base_url, api_key=pat, user_id=profile.user_id, app_id=app_id, retry=retry
    )
    client.set_retry_listener(on_retry)
    user_id = profile.user_id
    if user_id == "me":
        # Annotations come back with the owner's real id: learn it, so "mine" means mine.
        try:
            user_id = await client.get_user_id()
        except ApiError as exc:
            if exc.is_auth and exc.http_status == 401:
                await client.aclose()
                raise ConnectError(f"{base_url} refused the key: {exc}") from None
            if require_reachable and isinstance(exc, ApiConnectionError):
                await client.aclose()
                raise ConnectError(
                    f"{exc}; check base_url of profile {profile.name!r} (or the network), "
                    "or start the server if it is a `clarifai-tui serve`"
                ) from None
            # Unreachable now, or a PAT without the scope to read the user: keep "me" and
            # let the first real call say what is wrong.
            user_id = profile.user_id
    return Connection(client=client, label=base_url, user_id=user_id)


def state_dir(profile: Profile) -> Path:
    """Where resumable work (upload journals) is kept for a profile."""
    env = os.environ.get("CLARIFAI_TUI_STATE_DIR")
    if env:
        return Path(env).expanduser() / profile.name
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME)) / profile.name


def print_retry(notice: RetryNotice) -> None:
    """For one-shot commands: each retry as a line on stderr."""
    import sys

    from tui.widgets.text import safe

    print(safe(notice.message, one_line=True), file=sys.stderr, flush=True)


async def run_with_client(
    config: Config,
    profile: Profile,
    app_id: str | None,
    run: Callable[[ClarifaiClient, Path], Awaitable[int]],
    *,
    owner: str,
) -> int:
    """Connect, run one command with a client bound to the app, close. For the CLI."""
    import sys

    from tui.widgets.text import safe

    try:
        connection = await connect(
            profile, owner=owner, on_retry=print_retry, require_reachable=True
        )
    except ConnectError as exc:
        print(safe(f"clarifai-tui {owner}: {exc}", one_line=True), file=sys.stderr)
        return 2
    try:
        app = app_id or profile.app_id
        if not app:
            print(
                safe(
                    f"clarifai-tui {owner}: no app given: pass --app APP_ID or set app_id in "
                    f"[profiles.{profile.name}] of {config.path}",
                    one_line=True,
                ),
                file=sys.stderr,
            )
            return 2
        return await run(connection.client.with_app(app), state_dir(profile))
    finally:
        await connection.aclose()
