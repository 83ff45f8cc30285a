"""Connecting a remote profile: `me` is swapped for the key owner's real id (annotations come
back with it), a refused key is a ConnectError that never shows the key, and a key without
the scope to read the user keeps `me`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest
import respx

from api.retry import RetryNotice, RetryPolicy
from tests.client.conftest import Sleeps
from tui.config import Profile
from tui.connect import ConnectError, Connection, connect

BASE = "https://api.test"
SECRET = "pat-0123456789abcdef"


@pytest.fixture
def profile(monkeypatch: pytest.MonkeyPatch) -> Profile:
    monkeypatch.setenv("CLARIFAI_PAT", SECRET)
    return Profile(name="team", backend="clarifai", base_url=BASE, user_id="me", app_id="a1")


def status(code: int, description: str, **payload: object) -> dict[str, object]:
    return {"status": {"code": code, "description": description}, **payload}


async def test_me_becomes_the_key_owner(profile: Profile) -> None:
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        route = router.get("/v2/users/me").mock(
            return_value=httpx.Response(200, json=status(10000, "Ok", user={"id": "ada"}))
        )
        conn = await connect(profile)
        try:
            assert conn.user_id == "ada"
            assert route.calls.last.request.headers["Authorization"] == f"Key {SECRET}"
        finally:
            await conn.aclose()


async def test_refused_key_is_a_connect_error_without_the_key(profile: Profile) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/v2/users/me").mock(
            return_value=httpx.Response(401, json=status(11008, "API key not found"))
        )
        with pytest.raises(ConnectError) as info:
            await connect(profile)
    message = str(info.value)
    assert BASE in message and "refused the key" in message
    assert SECRET not in message


async def test_key_without_user_scope_keeps_me(profile: Profile) -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/v2/users/me").mock(
            return_value=httpx.Response(403, json=status(11007, "Insufficient scopes"))
        )
        conn = await connect(profile)
        try:
            assert conn.user_id == "me"
        finally:
            await conn.aclose()


async def test_a_named_user_is_not_looked_up(profile: Profile) -> None:
    profile = dataclasses.replace(profile, user_id="grace")
    with respx.mock(base_url=BASE, assert_all_mocked=True) as router:
        conn = await connect(profile)
        try:
            assert conn.user_id == "grace" and router.calls.call_count == 0
        finally:
            await conn.aclose()


async def test_on_retry_hears_the_first_call_and_keeps_listening(profile: Profile) -> None:
    """The CLI passes on_retry to show why nothing moves: it must hear the retries of the very
    first call (the user lookup) and of the calls made with the connection afterwards."""
    heard: list[RetryNotice] = []
    sleeps = Sleeps()
    with respx.mock(base_url=BASE) as router:
        router.get("/v2/users/me").mock(
            side_effect=[
                httpx.Response(503),
                httpx.Response(200, json=status(10000, "Ok", user={"id": "ada"})),
            ]
        )
        router.get("/v2/users/me/apps").mock(
            side_effect=[httpx.Response(429), httpx.Response(200, json=status(10000, "Ok"))]
        )
        conn = await connect(profile, on_retry=heard.append, retry=RetryPolicy(sleep=sleeps))
        try:
            assert conn.user_id == "ada"
            await conn.client.list_apps()
        finally:
            await conn.aclose()
    assert [(n.request, n.attempt) for n in heard] == [
        ("GET /v2/users/me", 2),
        ("GET /v2/users/me/apps", 2),
    ]
    assert "HTTP_503" in heard[0].reason and all(SECRET not in n.message for n in heard)
    assert len(sleeps) == 2


async def test_an_unreachable_server_fails_a_command_but_not_the_tui(profile: Profile) -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(sleep=sleeps, jitter=False, max_attempts=3)
    with respx.mock(base_url=BASE) as router:
        route = router.get("/v2/users/me").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(ConnectError) as info:
            await connect(profile, require_reachable=True, retry=policy)
        assert route.call_count == 3 and sleeps == [0.5, 1.0]  # retried before giving up
        message = str(info.value)
        assert f"could not reach {BASE}" in message and "profile 'team'" in message
        assert "clarifai-tui serve" in message and SECRET not in message

        conn = await connect(profile, retry=policy)  # the TUI: opens, and keeps "me"
        try:
            assert conn.user_id == "me" and route.call_count == 6
        finally:
            await conn.aclose()


async def test_one_shot_commands_print_retries_and_need_a_reachable_server(
    profile: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui import connect as connect_module
    from tui.config import load_config
    from tui.demo import run_demo_command

    asked: list[dict[str, object]] = []

    async def refuse(_: Profile, **kwargs: object) -> Connection:
        asked.append(kwargs)
        raise ConnectError("could not reach it")

    async def never(*_: object) -> int:
        raise AssertionError("ran without a connection")

    monkeypatch.setattr(connect_module, "connect", refuse)
    config = load_config(tmp_path / "config.toml")
    assert await connect_module.run_with_client(config, profile, "a1", never, owner="upload") == 2
    assert await run_demo_command(config, profile, None) == 2
    assert [(k["owner"], k["on_retry"], k["require_reachable"]) for k in asked] == [
        ("upload", connect_module.print_retry, True),
        ("demo", connect_module.print_retry, True),
    ]
