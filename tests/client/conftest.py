from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from api.client import ClarifaiClient
from api.retry import RetryPolicy

BASE = "https://api.test"
KEY = "test-key"
APP = "/v2/users/me/apps/app1"


class Sleeps(list[float]):
    """A sleep that records the delays asked for and returns at once."""

    async def __call__(self, delay: float) -> None:
        self.append(delay)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def policy(sleeps: Sleeps) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps, jitter=False, base_delay=0.5, max_attempts=4)


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(base_url=BASE, assert_all_called=False, using=None)


@pytest.fixture
async def client(router: respx.MockRouter, policy: RetryPolicy) -> AsyncIterator[ClarifaiClient]:
    c = ClarifaiClient(
        base_url=BASE,
        api_key=KEY,
        user_id="me",
        app_id="app1",
        transport=httpx.MockTransport(router.async_handler),
        retry=policy,
    )
    yield c
    await c.aclose()


def ok(code: int = 10000, **payload: object) -> httpx.Response:
    return httpx.Response(200, json={"status": {"code": code, "description": "Ok"}, **payload})
