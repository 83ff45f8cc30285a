"""Retries, Retry-After, give-up caps, idempotency, error messages, and key secrecy."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest
import respx

from api.client import ClarifaiClient
from api.errors import ApiConnectionError, ApiError, status_name
from api.models import Concept, NewInput
from api.retry import RetryNotice, RetryPolicy, parse_retry_after
from tests.client.conftest import APP, BASE, KEY, Sleeps, ok


def fail(status: int, code: int, description: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(
        status, headers=headers, json={"status": {"code": code, "description": description}}
    )


async def test_429_honours_retry_after(
    client: ClarifaiClient, router: respx.MockRouter, sleeps: Sleeps
) -> None:
    route = router.get(f"{APP}/inputs/status").mock(
        side_effect=[fail(429, 11005, "Throttled", **{"Retry-After": "7"}), ok(counts={})]
    )
    await client.get_input_count()
    assert route.call_count == 2 and sleeps == [7.0]


async def test_503_and_try_again_back_off_exponentially(
    client: ClarifaiClient, router: respx.MockRouter, sleeps: Sleeps
) -> None:
    router.get(f"{APP}/concepts").mock(
        side_effect=[
            httpx.Response(503, text="upstream down"),
            fail(200, 10030, "Try again"),
            httpx.Response(502),
            ok(concepts=[]),
        ]
    )
    await client.list_concepts()
    assert sleeps == [0.5, 1.0, 2.0]


async def test_a_retry_listener_hears_each_retry_before_its_wait(
    client: ClarifaiClient, router: respx.MockRouter, sleeps: Sleeps
) -> None:
    heard: list[RetryNotice] = []

    def listen(notice: RetryNotice) -> None:
        heard.append(notice)
        assert len(sleeps) == len(heard) - 1, "told after the wait, not before it"

    route = router.get(f"{APP}/concepts").mock(
        side_effect=[
            httpx.Response(503, text="upstream down"),
            httpx.ConnectError("connection refused"),
            ok(concepts=[]),
        ]
    )
    client.set_retry_listener(listen)
    await client.with_app("app1").list_concepts()  # a with_app client shares the listener
    assert [(n.attempt, n.max_attempts, n.delay) for n in heard] == [(2, 4, 0.5), (3, 4, 1.0)]
    assert sleeps == [0.5, 1.0]
    assert {n.request for n in heard} == {f"GET {APP}/concepts"}
    assert "HTTP_503" in heard[0].reason and "could not reach" in heard[1].reason
    assert heard[1].message.startswith("retrying in 1.0 s (attempt 3 of 4): CONNECTION_FAILED")
    assert all(KEY not in n.message for n in heard)

    client.set_retry_listener(None)
    route.side_effect = [httpx.Response(503), ok(concepts=[])]
    await client.list_concepts()
    assert len(heard) == 2 and len(sleeps) == 3


async def test_connection_reset_and_timeout_retried(
    client: ClarifaiClient, router: respx.MockRouter, sleeps: Sleeps
) -> None:
    route = router.get(f"{APP}/workflows").mock(
        side_effect=[httpx.ReadError("connection reset by peer"), httpx.ReadTimeout("slow"), ok()]
    )
    await client.list_workflows()
    assert route.call_count == 3 and len(sleeps) == 2


async def test_gives_up_after_max_attempts(
    client: ClarifaiClient, router: respx.MockRouter, sleeps: Sleeps
) -> None:
    route = router.get(f"{APP}/models").mock(return_value=httpx.Response(504))
    with pytest.raises(ApiError) as info:
        await client.list_models()
    assert route.call_count == 4 and len(sleeps) == 3
    assert info.value.http_status == 504 and info.value.retryable
    assert "try again later" in str(info.value)


async def test_gives_up_when_total_time_would_be_exceeded(router: respx.MockRouter) -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(sleep=sleeps, max_total=10.0, jitter=False)
    route = router.get(f"{APP}/models").mock(return_value=fail(429, 11005, **{"Retry-After": "60"}))
    async with ClarifaiClient(
        base_url=BASE,
        api_key=KEY,
        user_id="me",
        app_id="app1",
        transport=httpx.MockTransport(router.async_handler),
        retry=policy,
    ) as c:
        with pytest.raises(ApiError) as info:
            await c.list_models()
    assert route.call_count == 1 and sleeps == [] and info.value.name == "CONN_THROTTLED"


async def test_connection_refused_gives_connection_error(
    client: ClarifaiClient, router: respx.MockRouter
) -> None:
    router.get(f"{APP}/models").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ApiConnectionError) as info:
        await client.list_models()
    assert info.value.name == "CONNECTION_FAILED" and "could not reach https://api.test" in str(
        info.value
    )


async def test_training_is_not_retried_after_it_may_have_reached_the_server(
    client: ClarifaiClient, router: respx.MockRouter, sleeps: Sleeps
) -> None:
    route = router.post(f"{APP}/models/clf/versions").mock(
        side_effect=[httpx.Response(503), ok(model={"id": "clf", "model_version": {"id": "v"}})]
    )
    with pytest.raises(ApiError):
        await client.train_model("clf", concepts=[Concept("cat")])
    assert route.call_count == 1 and sleeps == []
    route.side_effect = [httpx.ReadTimeout("lost"), ok()]
    with pytest.raises(ApiConnectionError):
        await client.train_model("clf", concepts=[Concept("cat")])
    # never sent at all: safe to retry
    route.side_effect = [
        httpx.ConnectError("refused"),
        ok(model={"id": "clf", "model_version": {"id": "v"}}),
    ]
    assert (await client.train_model("clf", concepts=[Concept("cat")])).id == "v"


async def test_post_inputs_is_retried_with_the_same_ids(
    client: ClarifaiClient, router: respx.MockRouter
) -> None:
    route = router.post(f"{APP}/inputs").mock(
        side_effect=[httpx.Response(502), ok(inputs=[{"id": "x", "status": {"code": 30001}}])]
    )
    [result] = await client.post_inputs([NewInput(data=b"abc", id="x")])
    assert result.outcome == "created"
    assert route.calls[0].request.content == route.calls[1].request.content


@pytest.mark.parametrize(
    ("status", "code", "name", "hint"),
    [
        (401, 11008, "CONN_KEY_INVALID", "check CLARIFAI_PAT"),
        (401, 11001, "CONN_TOKEN_INVALID", "check CLARIFAI_PAT"),
        (403, 11007, "CONN_INSUFFICIENT_SCOPES", "scope"),
        (404, 11101, "CONN_DOES_NOT_EXIST", "not found"),
        (404, 21200, "MODEL_DOES_NOT_EXIST", "no such model"),
        (404, 22102, "WORKFLOW_DOES_NOT_EXIST", "no such workflow"),
        (403, 0, "HTTP_403", "not allowed"),
    ],
)
async def test_error_messages(
    client: ClarifaiClient,
    router: respx.MockRouter,
    status: int,
    code: int,
    name: str,
    hint: str,
) -> None:
    if code:
        response = fail(status, code, "Something went wrong")
    else:
        response = httpx.Response(status, text="<html>Forbidden</html>")
    router.get(f"{APP}/models/m").mock(return_value=response)
    with pytest.raises(ApiError) as info:
        await client.get_model("m")
    error = info.value
    assert error.name == name and error.http_status == status and not error.retryable
    message = str(error)
    assert message.startswith(name) and hint in message and "\n" not in message
    assert "GET /v2/users/me/apps/app1/models/m" in message


async def test_http_200_with_failure_code_is_an_error(
    client: ClarifaiClient, router: respx.MockRouter
) -> None:
    router.get(f"{APP}/models/m").mock(return_value=fail(200, 10020, "Failure"))
    with pytest.raises(ApiError, match="FAILURE"):
        await client.get_model("m")


def test_status_names() -> None:
    assert status_name(10000) == "SUCCESS"
    assert status_name(30100) == "INPUT_DUPLICATE"
    assert status_name(12345678) == "UNKNOWN_12345678"


def test_parse_retry_after() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_with_jitter_stays_in_bounds() -> None:
    policy = RetryPolicy(random=lambda: 1.0, max_delay=4.0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    low = RetryPolicy(random=lambda: 0.0)
    assert low.backoff(3) == 1.0


SECRET = "super-secret-pat-0123456789"


async def test_key_never_in_messages_reprs_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = respx.MockRouter(base_url=BASE, using=None)
    # a hostile server echoes the key back in its error text
    echo.get(f"{APP}/models").mock(
        side_effect=[
            httpx.Response(503),
            fail(401, 11008, f"API key {SECRET} not found"),
        ]
    )
    echo.get(f"{APP}/concepts").mock(side_effect=httpx.ConnectError(f"boom {SECRET}"))
    sleeps = Sleeps()
    client = ClarifaiClient(
        base_url=BASE,
        api_key=SECRET,
        user_id="me",
        app_id="app1",
        transport=httpx.MockTransport(echo.async_handler),
        retry=RetryPolicy(sleep=sleeps, max_attempts=2),
    )
    errors: list[ApiError] = []
    for call in (client.list_models, client.list_concepts):
        with pytest.raises(ApiError) as info:
            await call()
        errors.append(info.value)
    texts = [repr(client), repr(client.with_app("x"))]
    for error in errors:
        texts += [str(error), repr(error), error.description, error.details, error.message]
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(client._conn.http.auth), repr(client._conn)]
    await client.aclose()
    assert caplog.records, "retries are logged"
    for text in texts:
        assert SECRET not in text
