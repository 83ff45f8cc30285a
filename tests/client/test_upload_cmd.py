from __future__ import annotations

import argparse
import io
from pathlib import Path

import httpx

from api.client import ClarifaiClient
from api.retry import RetryNotice, RetryPolicy
from api.upload import ProgressEvent
from tests.client.conftest import BASE, Sleeps
from tests.client.fake_clarifai import FakeClarifai
from tests.client.test_upload import make_files
from tui.upload_cmd import (
    ProgressPrinter,
    add_upload_arguments,
    format_summary,
    progress_line,
    run_upload_command,
)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app")
    add_upload_arguments(parser)
    return parser.parse_args(argv)


def fake_client(fake: FakeClarifai) -> ClarifaiClient:
    return ClarifaiClient(
        base_url=BASE,
        api_key="test-key",
        user_id="me",
        app_id="app1",
        transport=fake.transport(),
        retry=RetryPolicy(sleep=Sleeps()),
    )


async def test_upload_command_summary_and_exit_status(tmp_path: Path) -> None:
    make_files(tmp_path / "imgs" / "sub", 3, broken=1)
    urls = tmp_path / "urls.txt"
    urls.write_text("https://x.test/a.jpg\n")
    fake = FakeClarifai()
    args = parse([str(tmp_path / "imgs"), "-r", "--urls", str(urls), "--concept", "cat"])
    out, err = io.StringIO(), io.StringIO()
    async with fake_client(fake) as client:
        status = await run_upload_command(client, args, tmp_path / "state", out=out, err=err)
    text = out.getvalue()
    assert status == 1
    assert text.startswith("uploaded: 4, already present: 0, failed: 1")
    assert "broken0.jpg: Input failed to process: cannot identify image file" in text
    assert "failed: " in err.getvalue() and "\r" not in err.getvalue()  # not a tty: plain lines
    # again: everything already present; broken still failed
    out2 = io.StringIO()
    async with fake_client(fake) as client:
        status = await run_upload_command(client, args, tmp_path / "state", out=out2, err=err)
    assert status == 1 and out2.getvalue().startswith("uploaded: 0, already present: 4, failed: 1")


async def test_upload_command_nothing_to_do(tmp_path: Path) -> None:
    err = io.StringIO()
    async with fake_client(FakeClarifai()) as client:
        assert await run_upload_command(client, parse([]), tmp_path, err=err) == 2
        (tmp_path / "empty").mkdir()
        assert (
            await run_upload_command(client, parse([str(tmp_path / "empty")]), tmp_path, err=err)
            == 2
        )
    assert "nothing to upload" in err.getvalue() and "no image or video files" in err.getvalue()


async def test_upload_command_all_good_exits_0_and_auth_error_2(tmp_path: Path) -> None:
    make_files(tmp_path / "imgs", 2)
    fake = FakeClarifai()
    out, err = io.StringIO(), io.StringIO()
    async with fake_client(fake) as client:
        assert (
            await run_upload_command(client, parse([str(tmp_path / "imgs")]), tmp_path, out=out)
            == 0
        )
    bad = ClarifaiClient(
        base_url=BASE,
        api_key="nope",
        user_id="me",
        app_id="app1",
        transport=fake.transport(),
        retry=RetryPolicy(sleep=Sleeps()),
    )
    async with bad:
        status = await run_upload_command(
            bad, parse([str(tmp_path / "imgs")]), tmp_path / "x", err=err
        )
    assert status == 2 and "CLARIFAI_PAT" in err.getvalue() and "resume" in err.getvalue()


async def test_upload_command_says_when_it_retries(tmp_path: Path) -> None:
    """A 503 on the first PostInputs: the user reads why nothing moves and when it tries again,
    then the upload completes."""
    make_files(tmp_path / "imgs", 2)
    fake = FakeClarifai()
    answered_503 = False

    async def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal answered_503
        if request.method == "POST" and request.url.path.endswith("/inputs") and not answered_503:
            answered_503 = True
            return httpx.Response(503, text="upstream down")
        return await fake.handle(request)

    sleeps = Sleeps()
    client = ClarifaiClient(
        base_url=BASE,
        api_key="test-key",
        user_id="me",
        app_id="app1",
        transport=httpx.MockTransport(flaky),
        retry=RetryPolicy(sleep=sleeps, jitter=False),
    )
    out, err = io.StringIO(), io.StringIO()
    async with client:
        status = await run_upload_command(
            client, parse([str(tmp_path / "imgs")]), tmp_path / "state", out=out, err=err
        )
    assert status == 0 and out.getvalue().startswith("uploaded: 2, already present: 0")
    said = [line for line in err.getvalue().splitlines() if line.startswith("retrying")]
    assert said == [
        "retrying in 0.5 s (attempt 2 of 5): HTTP_503: Service Unavailable"
        " — the server is unavailable right now, try again later"
        " [POST /v2/users/me/apps/app1/inputs]"
    ], err.getvalue()
    assert sleeps == [0.5]


def test_tty_retry_notice_goes_above_the_bar_which_is_drawn_again() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(stream, tty=True)
    event = ProgressEvent(10, 5, 1, 1, 2, 0, 1, 2.5, 2.8, 1.0)
    printer(event)
    printer.retrying(RetryNotice("POST /v2/x", 2, 5, 1.5, "HTTP_503: down"))
    printer.finish()
    bar = progress_line(event)
    assert stream.getvalue() == (
        f"\r\x1b[2K{bar}"  # the bar
        "\r\x1b[2Kretrying in 1.5 s (attempt 2 of 5): HTTP_503: down\n"  # cleared, the notice
        f"{bar}\n"  # the bar again below it, ended by finish()
    )


def test_tty_progress_bar_redraws() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(stream, tty=True)
    printer(ProgressEvent(10, 5, 1, 1, 2, 0, 1, 2.5, 2.8, 1.0))
    printer.finish()
    text = stream.getvalue()
    assert text.startswith("\r\x1b[2K[#######") and "3/10" in text and "2.5/s" in text
    assert "ETA 0:03" in text and text.endswith("\n")


def test_format_summary_lists_pending() -> None:
    from api.upload import ItemReport, UploadSummary

    text = format_summary(
        UploadSummary(pending=(ItemReport("a.png", "x", "still processing"),), elapsed=75)
    )
    assert "not finished: 1" in text and "a.png: still processing" in text and "(1:15)" in text
