from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from api.local.backend import LocalBackend
from api.local.fetch import check_url, download
from api.local.imaging import ImageRejected, IngestLimits
from tests.local.conftest import APP, client_for, image_bytes
from tests.local.http_server import serve_files


async def run_urls(backend: LocalBackend, urls: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Post URL inputs (id -> url) to a fresh app, wait, return id -> input."""
    await backend.start()
    try:
        async with client_for(backend) as c:
            await c.post("/v2/users/me/apps", json={"apps": [{"id": "app"}]})
            inputs = [{"id": k, "data": {"image": {"url": v}}} for k, v in urls.items()]
            r = await c.post(f"{APP}/inputs", json={"inputs": inputs})
            assert r.status_code == 200, r.text
            await backend.wait_idle(10)
            out = {}
            for ident in urls:
                out[ident] = (await c.get(f"{APP}/inputs/{ident}")).json()["input"]
            return out
    finally:
        await backend.stop()


async def test_loopback_url_allowed_when_asked(
    backend_factory: Callable[..., LocalBackend],
) -> None:
    png = image_bytes("PNG", size=(10, 12))
    with serve_files({"/a.png": png}) as base:
        found = await run_urls(
            backend_factory(allow_private_urls=True),
            {
                "ok": f"{base}/a.png",
                "missing": f"{base}/nope.png",
                "redirected": f"{base}/redirect?to=/a.png",
            },
        )
    assert found["ok"]["status"]["code"] == 30000
    assert found["ok"]["data"]["image"]["url"] == f"{base}/a.png"
    assert found["ok"]["data"]["image"]["image_info"]["height"] == 12
    assert found["redirected"]["status"]["code"] == 30000
    assert found["missing"]["status"]["code"] == 30002
    assert found["missing"]["status"]["description"].startswith("download failed: HTTP 404")


async def test_private_and_bad_scheme_refused(
    backend_factory: Callable[..., LocalBackend],
) -> None:
    with serve_files({"/a.png": image_bytes()}) as base:
        found = await run_urls(
            backend_factory(),
            {
                "loop": f"{base}/a.png",
                "ftp": "ftp://example.com/a.png",
                "file": "file:///etc/passwd",
                "nohost": "http:///a.png",
            },
        )
    loop = found["loop"]["status"]
    assert loop["code"] == 30002
    assert "127.0.0.1, a loopback address" in loop["description"]
    assert "--allow-private-urls" in loop["description"]
    assert "scheme ftp is not allowed" in found["ftp"]["status"]["description"]
    assert "scheme file is not allowed" in found["file"]["status"]["description"]
    assert "no host name" in found["nohost"]["status"]["description"]


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("10.1.2.3", "private"),
        ("169.254.169.254", "link-local"),
        ("::1", "loopback"),
        ("192.168.0.1", "private"),
        ("0.0.0.0", "not a public"),
        ("100.64.1.2", "shared"),  # RFC 6598: not private, not global either
        ("fd00::1", "private"),
    ],
)
async def test_resolved_private_addresses_refused(address: str, problem: str) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", address]

    with pytest.raises(ImageRejected, match=problem):
        await check_url("http://sneaky.example/x.png", allow_private=False, resolver=resolver)


async def test_public_address_passes() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    await check_url("https://example.com/x.png", allow_private=False, resolver=resolver)


async def test_timeout_http_error_and_size_via_mock(
    backend_factory: Callable[..., LocalBackend],
) -> None:
    png = image_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/slow.png":
            raise httpx.ReadTimeout("timed out", request=request)
        if request.url.path == "/err.png":
            return httpx.Response(503)
        if request.url.path == "/big.png":
            return httpx.Response(200, content=b"\x89PNG" + b"0" * 3_000_000)
        return httpx.Response(200, content=png)

    found = await run_urls(
        backend_factory(allow_private_urls=True, url_transport=httpx.MockTransport(handler)),
        {
            "slow": "http://img.test/slow.png",
            "err": "http://img.test/err.png",
            "big": "http://img.test/big.png",
            "fine": "https://img.test/fine.png",
        },
    )
    assert found["slow"]["status"]["description"].startswith("download timed out after 2 s")
    assert found["err"]["status"]["description"].startswith("download failed: HTTP 503")
    assert found["big"]["status"]["description"].startswith("too large")
    assert found["fine"]["status"]["code"] == 30000


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(
    scheme: str,
) -> None:
    # DNS rebinding: the name answers a public address to the check and loopback afterwards.
    # The download must connect to the address it checked, naming the host in Host and SNI.
    answers = [["93.184.216.34"], ["127.0.0.1"]]
    lookups: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return answers[min(len(lookups) - 1, 1)]

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=image_bytes())

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        body = await download(
            client,
            f"{scheme}://rebind.example:8080/a.png?x=1",
            IngestLimits(),
            allow_private=False,
            resolver=rebinding,
        )
    assert body == image_bytes()
    assert lookups == ["rebind.example"]
    (request,) = seen
    assert request.url.host == "93.184.216.34"
    assert (request.url.port, request.url.path, request.url.query) == (8080, "/a.png", b"x=1")
    assert request.headers["host"] == "rebind.example:8080"
    assert request.extensions.get("sni_hostname") == (
        "rebind.example" if scheme == "https" else None
    )


async def test_a_redirect_to_a_name_that_resolves_to_loopback_is_refused() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return {"public.example": ["93.184.216.34"], "inner.example": ["127.0.0.1"]}[host]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://inner.example/secret"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(
            ImageRejected, match=re.escape("'inner.example' resolves to 127.0.0.1, a loopback")
        ):
            await download(
                client,
                "http://public.example/a.png",
                IngestLimits(),
                allow_private=False,
                resolver=resolver,
            )


async def test_hanging_urls_do_not_hold_back_inputs_sent_with_their_bytes(
    backend_factory: Callable[..., LocalBackend],
) -> None:
    """Issue #25 item 4: 3,000 hanging URL inputs delayed 10 base64 inputs by 340 s, every
    claim slot being held by a download. URL jobs have their own budget now: with more hanging
    URLs queued than that budget (and than the stored inputs' own), inputs posted afterwards
    with their bytes are processed while every download still hangs."""
    import asyncio

    release = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(503)

    backend = backend_factory(
        allow_private_urls=True,
        url_transport=httpx.MockTransport(hang),
        limits=IngestLimits(max_bytes=2_000_000, max_pixels=4_000_000, url_timeout=600.0),
    )
    backend.ingest._max_active = 8  # small budgets, so few inputs make the point
    backend.ingest._max_url_active = 4
    await backend.start()
    try:
        async with client_for(backend) as client:
            r = await client.post("/v2/users/me/apps", json={"apps": [{"id": "app"}]})
            assert r.status_code == 200
            inputs = f"{APP}/inputs"
            urls = [
                {"id": f"url-{n}", "data": {"image": {"url": f"http://img.test/{n}.png"}}}
                for n in range(40)
            ]
            assert (await client.post(inputs, json={"inputs": urls})).status_code == 200
            import base64

            data = base64.b64encode(image_bytes()).decode()
            own = [{"id": f"bytes-{n}", "data": {"image": {"base64": data}}} for n in range(3)]
            assert (await client.post(inputs, json={"inputs": own})).status_code == 200
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while True:
                listed = (await client.get(inputs, params={"per_page": 100})).json()["inputs"]
                codes = {i["id"]: i["status"]["code"] for i in listed}
                if all(codes[f"bytes-{n}"] == 30000 for n in range(3)):
                    break
                assert loop.time() < deadline, "stored inputs waited behind the downloads"
                await asyncio.sleep(0.05)
            assert all(codes[f"url-{n}"] != 30000 for n in range(40))  # still hanging
            assert len(backend.ingest._url_active) <= 4
    finally:
        release.set()
        await backend.stop()
