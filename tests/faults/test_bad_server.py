"""The CLI and the adapter against a bad server (issue #25, item 9): 500s, hung requests, a
200k-deep JSON body and an endless body. Each gets the safe outcome: idempotent calls are
retried (never a training), a run that finally gives up prints what it did, and a body that
cannot be read is one clean line, never a traceback. No network: httpx.MockTransport over
the in-memory fake, retries wait no real time.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from api.client import MAX_RESPONSE_BYTES, ClarifaiClient
from api.errors import ApiConnectionError, ApiError
from api.models import Concept
from api.retry import RetryPolicy
from tests.client.conftest import APP, BASE, Sleeps
from tests.client.fake_clarifai import FakeClarifai
from tests.client.test_upload import make_files
from tui.cli_errors import EXIT_CANNOT_RUN
from tui.upload_cmd import add_upload_arguments, run_upload_command

KEY = "test-key"  # what FakeClarifai accepts
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def make_client(
    handler: Handler, sleeps: Sleeps, *, request_timeout: float = 600.0
) -> ClarifaiClient:
    return ClarifaiClient(
        base_url=BASE,
        api_key=KEY,
        user_id="me",
        app_id="app1",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(sleep=sleeps, jitter=False),
        request_timeout=request_timeout,
    )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app")
    add_upload_arguments(parser)
    return parser.parse_args(argv)


def is_post_inputs(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path == f"{APP}/inputs"


def ok(**payload: object) -> httpx.Response:
    return httpx.Response(200, json={"status": {"code": 10000, "description": "Ok"}, **payload})


async def hang_forever() -> None:
    await asyncio.Event().wait()


def assert_clean(text: str) -> None:
    assert "Traceback" not in text and "Task exception" not in text
    assert KEY not in text and "Authorization" not in text


# ---------------------------------------------------------------------------------------
# HTTP 500


async def test_500_to_the_first_two_post_inputs_then_200_uploads_every_input_once(
    tmp_path: Path,
) -> None:
    """The attack: 172 of 300 uploads failed at once on a 500. Now the batch is retried; the
    second 500 comes after the server stored the batch (a gateway lost the answer), so the
    retry's "duplicate" answers are this run's own uploads."""
    make_files(tmp_path / "imgs", 300)
    fake = FakeClarifai()
    failed = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal failed
        if is_post_inputs(request) and failed < 2:
            failed += 1
            if failed == 2:
                await fake.handle(request)  # stored, then the answer is lost
            return httpx.Response(500, text="<html>Internal Server Error</html>")
        return await fake.handle(request)

    sleeps = Sleeps()
    out, err = io.StringIO(), io.StringIO()
    async with make_client(handler, sleeps) as client:
        args = parse([str(tmp_path / "imgs"), "--concurrency", "1"])
        status = await run_upload_command(client, args, tmp_path / "state", out=out, err=err)
    assert_clean(out.getvalue() + err.getvalue())
    assert status == 0, out.getvalue() + err.getvalue()
    assert out.getvalue().startswith("uploaded: 300, already present: 0, failed: 0")
    assert len(fake.inputs) == 300 and set(fake.created.values()) == {1}
    assert sleeps == [0.5, 1.0]
    retried = [line for line in err.getvalue().splitlines() if line.startswith("retrying")]
    assert len(retried) == 2 and all("HTTP_500" in line for line in retried)


async def test_500_on_a_read_is_retried() -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(500) if calls == 1 else ok(models=[])

    sleeps = Sleeps()
    async with make_client(handler, sleeps) as client:
        await client.list_models()
    assert calls == 2 and sleeps == [0.5]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_non_idempotent_call_gets_no_retry_on_5xx(status: int) -> None:
    """PostModelVersions trains: a retry after a 5xx (which may have reached the server)
    could train twice."""
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status, text="upstream trouble")

    sleeps = Sleeps()
    async with make_client(handler, sleeps) as client:
        with pytest.raises(ApiError) as info:
            await client.train_model("clf", concepts=[Concept("cat")])
    assert calls == 1 and sleeps == []
    assert info.value.http_status == status and not info.value.retryable


# ---------------------------------------------------------------------------------------
# Hung requests


async def test_a_hung_request_is_retried_after_the_request_timeout() -> None:
    """No answer at all (a server that accepted the request and went silent): the attempt
    ends at the request timeout and the idempotent call is tried again."""
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await hang_forever()
        return ok(concepts=[])

    sleeps = Sleeps()
    async with make_client(handler, sleeps, request_timeout=0.05) as client:
        await client.list_concepts()
    assert calls == 2 and sleeps == [0.5]


async def test_read_timeouts_are_retried_within_the_budget_then_reported() -> None:
    """Each attempt timing out used to spend the whole retry budget (60 s of a 60 s read
    timeout), so a single hang aborted the run: the budget now counts waits, not attempts."""
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ReadTimeout("timed out", request=request)

    sleeps = Sleeps()
    async with make_client(handler, sleeps) as client:
        with pytest.raises(ApiConnectionError) as info:
            await client.get_input_count()
    assert calls == 5 and sleeps == [0.5, 1.0, 2.0, 4.0]
    error = info.value
    assert error.name == "TIMEOUT" and error.retryable
    assert "timed out talking to https://api.test" in str(error) and KEY not in str(error)


async def test_a_hung_training_call_is_not_retried() -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await hang_forever()
        raise AssertionError("unreachable")

    sleeps = Sleeps()
    async with make_client(handler, sleeps, request_timeout=0.05) as client:
        with pytest.raises(ApiConnectionError) as info:
            await client.train_model("clf", concepts=[Concept("cat")])
    assert calls == 1 and sleeps == [] and "no complete answer within 0.05 s" in str(info.value)


async def test_a_hung_upload_is_retried_and_counted_as_its_own(tmp_path: Path) -> None:
    """The server stored the batch, then never answered: the retry hears "duplicate", which
    after a lost answer means uploaded by this run."""
    make_files(tmp_path / "imgs", 3)
    fake = FakeClarifai(block_post=1)
    sleeps = Sleeps()
    out, err = io.StringIO(), io.StringIO()
    async with make_client(fake.handle, sleeps, request_timeout=0.05) as client:
        status = await run_upload_command(
            client, parse([str(tmp_path / "imgs")]), tmp_path / "state", out=out, err=err
        )
    assert status == 0, out.getvalue() + err.getvalue()
    assert out.getvalue().startswith("uploaded: 3, already present: 0, failed: 0")
    assert fake.post_calls == 2 and set(fake.created.values()) == {1}


async def test_an_upload_that_gives_up_prints_its_summary_and_exits_2(tmp_path: Path) -> None:
    """The attack: one hung request aborted the run with no summary. Now the run retries it,
    and when it gives up says what was sent, what was not, why, and that a rerun resumes."""
    make_files(tmp_path / "imgs", 300)
    fake = FakeClarifai()

    async def handler(request: httpx.Request) -> httpx.Response:
        if is_post_inputs(request) and fake.post_calls >= 1:
            await hang_forever()  # every PostInputs after the first batch
        return await fake.handle(request)

    sleeps = Sleeps()
    out, err = io.StringIO(), io.StringIO()
    args = parse([str(tmp_path / "imgs"), "--concurrency", "1", "--no-wait"])
    async with make_client(handler, sleeps, request_timeout=0.05) as client:
        status = await run_upload_command(client, args, tmp_path / "state", out=out, err=err)
    text = out.getvalue()
    assert_clean(text + err.getvalue())
    assert status == EXIT_CANNOT_RUN
    assert text.startswith("uploaded: 128, already present: 0, failed: 0, not finished: 172")
    assert "not finished (run the same command again to resume):" in text
    assert text.count(": sent, no answer received") == 128
    assert text.count(": not sent") == 44
    [line] = [x for x in err.getvalue().splitlines() if x.startswith("clarifai-tui upload:")]
    assert "TIMEOUT" in line and "run the same command again" in line
    assert len([x for x in err.getvalue().splitlines() if x.startswith("retrying")]) == 4

    # the rerun resumes: everything lands once
    out = io.StringIO()
    async with make_client(fake.handle, Sleeps()) as client:
        args = parse([str(tmp_path / "imgs")])
        status = await run_upload_command(client, args, tmp_path / "state", out=out, err=err)
    assert status == 0, out.getvalue()[:2000]
    assert "failed: 0" in out.getvalue() and "not finished" not in out.getvalue()
    assert len(fake.inputs) == 300 and set(fake.created.values()) == {1}


# ---------------------------------------------------------------------------------------
# Bodies that cannot be read


class EndlessBody(httpx.AsyncByteStream):
    """`{"status": ...` and then spaces, for ever; counts what was read of it."""

    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"status": {"code": 10000}, "inputs": ['
        chunk = b" " * (1024 * 1024)
        while True:
            self.sent += len(chunk)
            yield chunk


DEEP = 200_000


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[" * DEEP + b"]" * DEEP, "JSON nested too deeply to read"),
        (b'{"a":' * DEEP + b"1" + b"}" * DEEP, "JSON nested too deeply to read"),
        (b"<html>captive portal</html>", "not JSON"),
        (b'["an", "array"]', "a JSON list where an object was expected"),
    ],
    ids=["deep-array", "deep-object", "html", "array"],
)
async def test_a_body_that_is_not_a_json_object_is_a_clean_error(body: bytes, why: str) -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, content=body)

    sleeps = Sleeps()
    async with make_client(handler, sleeps) as client:
        with pytest.raises(ApiError) as info:
            await client.list_inputs()
    error = info.value
    assert calls == 1 and sleeps == [] and not error.retryable
    assert error.name == "MALFORMED_RESPONSE"
    message = str(error)
    assert message.startswith("MALFORMED_RESPONSE: the server sent a malformed response: " + why)
    assert "\n" not in message and len(message) < 300


async def test_a_deep_json_error_page_is_still_the_http_error() -> None:
    """On an error status the body is only a detail: unreadable, the status speaks."""
    deep = b"[" * DEEP + b"]" * DEEP

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, content=deep)

    sleeps = Sleeps()
    async with make_client(handler, sleeps) as client:
        with pytest.raises(ApiError) as info:
            await client.list_inputs()
    assert info.value.name == "HTTP_503" and len(sleeps) == 4


async def test_an_endless_body_is_cut_at_the_cap() -> None:
    streams: list[EndlessBody] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        streams.append(EndlessBody())
        return httpx.Response(200, stream=streams[-1])

    sleeps = Sleeps()
    async with make_client(handler, sleeps) as client:
        with pytest.raises(ApiError) as info:
            await client.list_inputs()
    error = info.value
    assert str(error).startswith(
        "MALFORMED_RESPONSE: the server sent a malformed response: the answer is larger than 64 MiB"
    )
    assert not error.retryable and len(streams) == 1 and sleeps == []
    assert streams[0].sent <= MAX_RESPONSE_BYTES + 2 * 1024 * 1024  # stopped at the cap


async def test_a_declared_oversized_body_is_refused_before_reading() -> None:
    body = EndlessBody()

    async def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Length": str(MAX_RESPONSE_BYTES + 1)}
        return httpx.Response(200, headers=headers, stream=body)

    async with make_client(handler, Sleeps()) as client:
        with pytest.raises(ApiError, match="larger than 64 MiB"):
            await client.get_input_count()
    assert body.sent == 0


# ---------------------------------------------------------------------------------------
# The CLI


@pytest.mark.parametrize("trouble", ["deep", "endless"])
async def test_the_cli_says_one_line_for_a_malformed_answer_and_exits_2(
    trouble: str, tmp_path: Path
) -> None:
    make_files(tmp_path / "imgs", 2)

    async def handler(request: httpx.Request) -> httpx.Response:
        if trouble == "deep":
            return httpx.Response(200, content=b"[" * DEEP + b"]" * DEEP)
        return httpx.Response(200, stream=EndlessBody())

    out, err = io.StringIO(), io.StringIO()
    async with make_client(handler, Sleeps()) as client:
        status = await run_upload_command(
            client, parse([str(tmp_path / "imgs")]), tmp_path / "state", out=out, err=err
        )
    assert_clean(out.getvalue() + err.getvalue())
    assert status == EXIT_CANNOT_RUN
    assert err.getvalue().count("\n") == 1, err.getvalue()
    assert err.getvalue().startswith(
        "clarifai-tui upload: MALFORMED_RESPONSE: the server sent a malformed response: "
    )


async def test_the_cli_reports_malformed_post_inputs_answers_in_its_summary(
    tmp_path: Path,
) -> None:
    """The app exists, but PostInputs answers garbage: each batch fails with the reason, the
    run goes on, and the summary says so (exit 1)."""
    make_files(tmp_path / "imgs", 3)
    fake = FakeClarifai()

    async def handler(request: httpx.Request) -> httpx.Response:
        if is_post_inputs(request):
            return httpx.Response(200, content=b'{"a":' * DEEP)
        return await fake.handle(request)

    out, err = io.StringIO(), io.StringIO()
    async with make_client(handler, Sleeps()) as client:
        status = await run_upload_command(
            client, parse([str(tmp_path / "imgs")]), tmp_path / "state", out=out, err=err
        )
    assert_clean(out.getvalue() + err.getvalue())
    assert status == 1
    assert out.getvalue().startswith("uploaded: 0, already present: 0, failed: 3")
    assert out.getvalue().count("the server sent a malformed response") == 3


async def test_server_text_in_retry_notices_is_sanitised(tmp_path: Path) -> None:
    make_files(tmp_path / "imgs", 1)
    fake = FakeClarifai()
    sent = False

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal sent
        if is_post_inputs(request) and not sent:
            sent = True
            status = {"code": 98004, "description": "\x1b]0;pwned\x07down\u202etxt.exe"}
            return httpx.Response(500, content=json.dumps({"status": status}).encode())
        return await fake.handle(request)

    out, err = io.StringIO(), io.StringIO()
    async with make_client(handler, Sleeps()) as client:
        status = await run_upload_command(
            client, parse([str(tmp_path / "imgs")]), tmp_path / "state", out=out, err=err
        )
    assert status == 0
    said = err.getvalue()
    assert "\x1b" not in said and "\u202e" not in said
    assert "\\x1b]0;pwned\\x07down\\u202etxt.exe" in said


class _OneChunk(httpx.AsyncByteStream):
    """A body sent as one chunk (httpx would decode a compressed chunk whole)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data


async def test_a_compressed_bomb_is_cut_at_the_cap_as_it_expands() -> None:
    """A small gzip body that expands past the cap: decoded a bounded step at a time, so the
    client never holds more than the cap."""
    import gzip

    bomb = gzip.compress(b"\x00" * (MAX_RESPONSE_BYTES * 4), compresslevel=9)
    assert len(bomb) < 1024 * 1024

    async def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Accept-Encoding"] == "gzip, deflate"
        return httpx.Response(200, stream=_OneChunk(bomb), headers={"Content-Encoding": "gzip"})

    sleeps = Sleeps()
    async with make_client(handler, sleeps) as client:
        with pytest.raises(ApiError) as info:
            await client.list_inputs()
    assert "the answer is larger than 64 MiB" in str(info.value)
    assert not info.value.retryable and sleeps == []


async def test_gzip_answers_are_read_and_unasked_encodings_refused() -> None:
    import gzip

    answers = [
        httpx.Response(
            200,
            stream=_OneChunk(gzip.compress(b'{"inputs": [{"id": "a"}]}')),
            headers={"Content-Encoding": "gzip"},
        ),
        httpx.Response(200, stream=_OneChunk(b"\x8b\x00"), headers={"Content-Encoding": "br"}),
    ]

    async def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    async with make_client(handler, Sleeps()) as client:
        assert [i.id for i in await client.list_inputs()] == ["a"]
        with pytest.raises(ApiError) as info:
            await client.list_inputs()
    assert "'br' encoding, which was not asked for" in str(info.value)
