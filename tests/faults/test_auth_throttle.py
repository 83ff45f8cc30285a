"""Keys on remote binds, and wrong keys throttled per address (issue 25).

The attacks: ``serve --allow-remote`` accepted a 1-character key, and wrong keys were answered
5,500 times a second without throttling. Now a non-loopback bind needs a key of 16 characters
or more (refused at start otherwise), and an address that sent ALLOWANCE wrong keys is answered
429 (11005, Retry-After) until its bucket leaks (api.local.throttle). The app runs in-process;
its clock is a fake one.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.local import serve
from api.local.backend import LocalBackend
from api.local.throttle import ALLOWANCE, REFILL, AuthThrottle, address_key

KEY = "throttle-key-0123456789"
APPS = "/v2/users/me/apps"


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[LocalBackend]:
    b = LocalBackend(tmp_path / "data", api_key=KEY)
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


def client(backend: LocalBackend, host: str, key: str | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=backend.app, client=(host, 40000)),
        base_url="http://local",
        headers={"Authorization": f"Key {key}"} if key is not None else {},
    )


async def test_wrong_keys_are_throttled_per_address(backend: LocalBackend) -> None:
    clock = Clock()
    backend.auth_throttle = AuthThrottle(clock=clock)
    attacker = "203.0.113.7"
    async with client(backend, attacker, "guess") as guesser:
        for _ in range(ALLOWANCE):
            r = await guesser.get(APPS)
            assert (r.status_code, r.json()["status"]["code"]) == (401, 11008)
        r = await guesser.get(APPS)
        assert r.status_code == 429
        status = r.json()["status"]
        assert status["code"] == 11005
        assert "too many requests with a wrong API key" in status["description"]
        assert r.headers["Retry-After"] == str(int(REFILL))
        # Ignoring Retry-After gets more 429s, whatever the guess: no oracle, no more guesses.
        for guess in ("guess2", KEY):
            r = await guesser.get(APPS, headers={"Authorization": f"Key {guess}"})
            assert r.status_code == 429
    # Another address with the right key is not slowed at all.
    async with client(backend, "198.51.100.2", KEY) as other:
        assert (await other.get(APPS)).status_code == 200
    # After Retry-After, one more guess is let through, then the address waits again.
    clock.now += REFILL
    async with client(backend, attacker, "guess") as guesser:
        assert (await guesser.get(APPS)).status_code == 401
        assert (await guesser.get(APPS)).status_code == 429
    clock.now += REFILL
    async with client(backend, attacker, KEY) as owner:
        assert (await owner.get(APPS)).status_code == 200


async def test_right_keys_and_missing_headers_never_count(backend: LocalBackend) -> None:
    backend.auth_throttle = AuthThrottle(clock=Clock())
    async with client(backend, "203.0.113.8", KEY) as good:
        for _ in range(ALLOWANCE * 5):
            assert (await good.get(APPS)).status_code == 200
    async with client(backend, "203.0.113.8", None) as bare:
        for _ in range(ALLOWANCE * 2):
            r = await bare.get(APPS)
            assert (r.status_code, r.json()["status"]["code"]) == (401, 11008)
    assert backend.auth_throttle.retry_after("203.0.113.8") is None
    assert backend.auth_throttle.refused == 0


async def test_an_ipv6_host_counts_by_its_64(backend: LocalBackend) -> None:
    backend.auth_throttle = AuthThrottle(clock=Clock())
    for i in range(ALLOWANCE):
        async with client(backend, f"2001:db8:1:2::{i + 1:x}", "guess") as guesser:
            assert (await guesser.get(APPS)).status_code == 401
    async with client(backend, "2001:db8:1:2:ffff::1", "guess") as neighbour:
        assert (await neighbour.get(APPS)).status_code == 429
    async with client(backend, "2001:db8:1:3::1", KEY) as elsewhere:
        assert (await elsewhere.get(APPS)).status_code == 200


def test_address_keys() -> None:
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("2001:db8::1") == "2001:db8::/64"
    assert address_key("testclient") == "testclient"


def test_the_throttle_forgets_the_least_recent_addresses() -> None:
    clock = Clock()
    throttle = AuthThrottle(allowance=1, clock=clock, max_addresses=3)
    for i in range(5):
        throttle.failed(f"192.0.2.{i}")
    assert throttle.retry_after("192.0.2.4") is not None
    assert throttle.retry_after("192.0.2.0") is None  # forgotten
    assert len(throttle._buckets) == 3


# -- keys on remote binds ----------------------------------------------------------------------


def test_remote_bind_refuses_a_short_key_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_bind(*args: object) -> socket.socket:
        raise AssertionError(f"tried to bind {args}")

    monkeypatch.setattr(serve, "_bind", no_bind)
    monkeypatch.setenv("CLARIFAI_PAT", "k")
    data = tmp_path / "d"
    status = serve.main(["--host", "0.0.0.0", "--allow-remote", "--data-dir", str(data)])
    err = capsys.readouterr().err
    assert status == 2
    assert "refusing to serve 0.0.0.0 with a 1-character API key (from CLARIFAI_PAT)" in err
    assert "at least 16 characters" in err
    assert not data.exists()


def test_remote_bind_refuses_a_short_key_from_the_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The key file's key is known once the data dir is opened: refused before serving."""
    bound: list[socket.socket] = []

    def loopback_bind(host: str, port: int) -> socket.socket:  # never a non-loopback socket
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        bound.append(sock)
        return sock

    def no_serve(*args: object) -> None:
        raise AssertionError("served with a short key")

    monkeypatch.setattr(serve, "_bind", loopback_bind)
    monkeypatch.setattr(serve, "_Server", no_serve)
    monkeypatch.delenv("CLARIFAI_PAT", raising=False)
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    fd = os.open(data / "api_key", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"short-key\n")
    os.close(fd)
    status = serve.main(["--host", "::", "--allow-remote", "--data-dir", str(data)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"with a 9-character API key (from {data / 'api_key'})" in err
    assert bound and bound[0].fileno() == -1, "the socket was left open"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_binds_take_any_key(host: str) -> None:
    assert serve.short_key_refusal(host, "k", "CLARIFAI_PAT") == ""


def test_remote_binds_take_16_characters() -> None:
    assert serve.short_key_refusal("0.0.0.0", "x" * 16, "CLARIFAI_PAT") == ""
    assert serve.short_key_refusal("0.0.0.0", "x" * 15, "CLARIFAI_PAT")
