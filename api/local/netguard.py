"""What keeps ``serve`` answering under a connection flood (issue 25, item 3 of the report).

The attack: with a 1,024 open-file limit, 1,100 idle connections that each sent half a request
head made every real request time out (accept() failed for want of file descriptors) and wrote
~700 MB of log a minute. uvicorn (0.55) has a keep-alive timeout, a request-head size limit
(``h11_max_incomplete_event_size``) and ``limit_concurrency``, but no timeout for reading a
request head, and its ``limit_concurrency`` counts idle connections with busy ones and answers
503 to every request past it, so on its own it turns an idle flood into refusals for everyone.

So ``serve`` runs uvicorn's h11 protocol with two additions (GuardedH11Protocol):

- a head timeout: a connection that owes the server a request head (just opened, or idle after
  a response) and has not sent a complete one within ``HEAD_TIMEOUT`` seconds of starting to owe
  it is closed; trickling bytes does not extend it;
- a connection cap below the open-file limit (``connection_cap``): a connection that would go
  past it closes the connection that has waited longest for a request head, so idle or
  half-sent connections make room for real ones; when every connection is busy with a request,
  the new one is closed at once. File descriptors then never run out on connections, and
  accept() keeps working.

``repeat_filter`` keeps the log small when the same record repeats (accept errors, 503s).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

#: Seconds a client has to send a complete request head (from the connection's start, or from
#: the end of the previous response).
HEAD_TIMEOUT = 10.0

#: Seconds an idle keep-alive connection is kept after a response (uvicorn's own timer).
KEEP_ALIVE = 5

#: The largest request head (request line plus headers) accepted, bytes. Query strings of the
#: List calls repeat ids (``input_ids=...&ids=...``, up to 128 each): ~13 KB at the longest
#: ids, hence more than h11's default of 16 KiB. With the cap below, heads waiting to complete
#: hold at most ~60 MB.
MAX_HEAD_BYTES = 64 * 1024

#: File descriptors kept for everything but client connections: the database and its WAL,
#: blob files, the ingest worker processes' pipes, URL downloads, logs (serve holds ~30 once
#: started).
FD_RESERVE = 160

#: The listen queue, and so the most connections asyncio accepts in one go (it accepts up to
#: its ``backlog`` each time the listening socket is readable, before any of them is seen by
#: the protocol and the cap): the cap leaves this many descriptors free as well. With uvicorn's
#: 2,048, a burst of 1,100 idle connections ran the server out of descriptors under a cap
#: that was otherwise right, and accept() failed (then asyncio waits a second to retry).
ACCEPT_BACKLOG = 128

#: Connections at most, whatever the open-file limit allows.
MAX_CONNECTIONS = 1000

#: The fewest connections the cap allows, however low the open-file limit.
MIN_CONNECTIONS = 16


def connection_cap(open_files: int | None = None) -> int:
    """Client connections ``serve`` keeps at once: the open-file limit less FD_RESERVE and
    ACCEPT_BACKLOG, at most MAX_CONNECTIONS (at least MIN_CONNECTIONS)."""
    if open_files is None:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        unlimited = soft == resource.RLIM_INFINITY
        open_files = MAX_CONNECTIONS + FD_RESERVE + ACCEPT_BACKLOG if unlimited else soft
    spare = open_files - FD_RESERVE - ACCEPT_BACKLOG
    return max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, spare))


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head timeout and a connection cap (see above).

    The settings are class attributes: ``guarded_protocol`` makes a subclass with its own."""

    head_timeout: float = HEAD_TIMEOUT
    cap: int = MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: When this connection started to owe a request head (monotonic); None while a request
        #: is being read or answered.
        self.waiting_since: float | None = None
        self._head_timer: asyncio.TimerHandle | None = None

    # -- the head timeout ----------------------------------------------------------------------

    def _await_head(self) -> None:
        self._cancel_head_timer()
        self.waiting_since = time.monotonic()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _owes_head(self) -> bool:
        return self.conn.their_state is h11.IDLE and not self.transport.is_closing()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._owes_head():
            self.transport.close()

    # -- uvicorn's protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()
        if len(self.connections) > self.cap:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self.waiting_since = None
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.waiting_since is not None and not self._owes_head():
            # A request head arrived (or the connection is closing): no longer waiting.
            self._cancel_head_timer()
            self.waiting_since = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._owes_head():
            self._await_head()

    def _make_room(self) -> None:
        """Close the connection that has waited longest for a request head (this one if no
        other is waiting)."""
        oldest: GuardedH11Protocol | None = None
        for other in self.connections:
            if other is self or not isinstance(other, GuardedH11Protocol):
                continue
            since = other.waiting_since
            if since is None or other.transport.is_closing():
                continue
            if oldest is None or since < (oldest.waiting_since or since):
                oldest = other
        victim = oldest if oldest is not None else self
        victim._cancel_head_timer()
        victim.waiting_since = None
        victim.transport.close()


def guarded_protocol(
    cap: int | None = None, head_timeout: float = HEAD_TIMEOUT
) -> type[GuardedH11Protocol]:
    """A GuardedH11Protocol class with these settings (for uvicorn.Config's ``http``)."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"cap": cap if cap is not None else connection_cap(), "head_timeout": head_timeout},
    )


# -- the log -----------------------------------------------------------------------------------


class RepeatFilter(logging.Filter):
    """Lets through the first ``burst`` records of a kind in each ``window`` seconds, and drops
    the rest; the first record let through after a window with drops says how many were dropped.

    A record's kind is its logger, level, message template and exception type: every
    "socket.accept() out of system resource" is one kind, whatever the file descriptor, and so
    is every "Exceeded concurrency limit.". Kinds not seen for a while are forgotten (at most
    ``max_kinds`` are tracked)."""

    def __init__(
        self,
        window: float = 60.0,
        burst: int = 3,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 1024,
    ) -> None:
        super().__init__()
        self.window = window
        self.burst = burst
        self.clock = clock
        self.max_kinds = max_kinds
        #: kind -> [window start, records let through in it, records dropped in it]
        self._seen: dict[tuple[object, ...], list[float]] = {}
        #: Records dropped, all kinds, since the start.
        self.dropped = 0

    @staticmethod
    def kind(record: logging.LogRecord) -> tuple[object, ...]:
        exc = record.exc_info[0] if record.exc_info else None
        # The first line: asyncio's handler adds lines that differ between records of one kind.
        return (record.name, record.levelno, str(record.msg).split("\n", 1)[0], exc)

    def filter(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        key = self.kind(record)
        state = self._seen.get(key)
        if state is None or now - state[0] >= self.window:
            dropped = int(state[2]) if state is not None else 0
            if state is None and len(self._seen) >= self.max_kinds:
                self._forget(now)
            self._seen[key] = [now, 1, 0]
            if dropped:
                record.msg = f"{record.msg} (and {dropped} more like it in the last "
                record.msg += f"{self.window:g} s, not logged)"
            return True
        if state[1] < self.burst:
            state[1] += 1
            return True
        state[2] += 1
        self.dropped += 1
        return False

    def _forget(self, now: float) -> None:
        for key in [k for k, s in self._seen.items() if now - s[0] >= self.window]:
            del self._seen[key]
        if len(self._seen) >= self.max_kinds:
            self._seen.clear()


def install_repeat_filter(
    loggers: tuple[str, ...] = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "asyncio"),
) -> RepeatFilter:
    """One RepeatFilter on every handler of these loggers (root first); returns it."""
    repeat = RepeatFilter()
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if repeat not in handler.filters:
                handler.addFilter(repeat)
    return repeat
