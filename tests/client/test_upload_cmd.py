from __future__ import annotations

import argparse
import io
from pathlib import Path

from api.client import ClarifaiClient
from api.retry import RetryPolicy
from api.upload import ProgressEvent
from tests.client.conftest import BASE, Sleeps
from tests.client.fake_clarifai import FakeClarifai
from tests.client.test_upload import make_files
from tui.upload_cmd import (
    ProgressPrinter,
    add_upload_arguments,
    format_summary,
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
    assert "nothing to upload" in err.getvalue() and "no image files" in err.getvalue()


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
