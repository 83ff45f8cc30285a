"""Review queue: accept, reject, toggle, skip, undo, leases; statuses read back from the server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from api.client import ClarifaiClient
from api.local.app import to_routes
from api.local.routes.review import ROUTES as REVIEW_ROUTES
from api.models import AnnotationStatus, Concept, NewAnnotation, NewInput
from api.review import ReviewQueue, history_of, lease_of, reviewer_id
from screens.review import ReviewScreen
from tests.screens.test_explorer import APP, backend_client
from tests.tui_helpers import connected, make_tui, png_bytes, wait_until
from tui.app import ClarifaiTUI

PENDING = AnnotationStatus.PENDING


async def seed(tmp_path: Path, count: int = 4) -> None:
    """Inputs r-0.. each with one PENDING annotation p-N (cat and dog), plus one SUCCESS."""
    async with backend_client(tmp_path) as (backend, client):
        await client.create_app(APP)
        await client.post_inputs(
            [NewInput(data=png_bytes((40 * i, 120, 200)), id=f"r-{i}") for i in range(count)]
        )
        await backend.wait_idle()
        for i in range(count):  # one call each: oldest first is p-0
            await client.post_annotations(
                [
                    NewAnnotation(
                        f"r-{i}",
                        (Concept("cat", "cat", 0.71), Concept("dog", "dog", 0.42)),
                        status_code=PENDING,
                        id=f"p-{i}",
                    )
                ]
            )
        await client.post_annotations(
            [NewAnnotation("r-0", (Concept("cat", "cat", 1.0),), id="done-0")]
        )


def mount_claims(app: ClarifaiTUI) -> None:
    """Mount the review claims route, as api/local/routes/__init__.py will."""
    assert app.connection is not None and app.connection.backend is not None
    router = app.connection.backend.app.router
    if not any(getattr(r, "name", "") == "PostReviewClaims" for r in router.routes):
        router.routes.extend(to_routes(REVIEW_ROUTES))


async def open_review(pilot: Pilot[Any]) -> ReviewScreen:
    app = pilot.app
    assert isinstance(app, ClarifaiTUI)
    await connected(pilot)
    mount_claims(app)
    await pilot.press("colon", *"review", "enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen))
    screen = app.screen
    assert isinstance(screen, ReviewScreen)
    await wait_until(pilot, lambda: screen.current is not None and not screen.busy, what="claim")
    return screen


async def statuses(client: ClarifaiClient) -> dict[str, int]:
    page = await client.list_annotations(list_all_annotations=True, per_page=100)
    return {a.id: a.status_code for a in page}


async def settled(pilot: Pilot[Any], screen: ReviewScreen, previous: object) -> None:
    await wait_until(
        pilot, lambda: not screen.busy and screen.current is not previous, what="next annotation"
    )
    await pilot.pause()


async def test_accept_reject_undo_skip(tmp_path: Path) -> None:
    await seed(tmp_path)
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_review(pilot)
        client = app.session.app_client()
        assert screen.queue is not None and screen.queue.atomic
        first = screen.current
        assert first is not None and first.id == "p-0"
        counter = str(screen.query_one("#review-counter").render())
        assert "4 left to review" in counter
        # switch dog off, accept: SUCCESS with cat only, written at once
        await pilot.press("j", "space")
        assert "> [ ] drop dog" in str(screen.query_one("#review-concepts").render())
        await pilot.press("a")
        await settled(pilot, screen, first)
        accepted = (
            await client.list_annotations(ids=["p-0"], input_ids=["r-0"], list_all_annotations=True)
        )[0]
        assert accepted.status_code == AnnotationStatus.SUCCESS
        assert [c.id for c in accepted.concepts] == ["cat"]
        assert history_of(accepted)[-1]["action"] == "accepted"
        assert "3 left to review" in str(screen.query_one("#review-counter").render())
        # reject the next one
        second = screen.current
        assert second is not None and second.id == "p-1"
        await pilot.press("r")
        await settled(pilot, screen, second)
        assert (await statuses(client))["p-1"] == AnnotationStatus.REVIEW_DENIED
        # undo: p-1 is PENDING again, and shown again
        third = screen.current
        await pilot.press("u")
        await settled(pilot, screen, third)
        assert screen.current is not None and screen.current.id == "p-1"
        assert (await statuses(client))["p-1"] == PENDING
        # undo again: p-0 back to PENDING with both concepts
        current = screen.current
        await pilot.press("u")
        await settled(pilot, screen, current)
        restored = (
            await client.list_annotations(ids=["p-0"], input_ids=["r-0"], list_all_annotations=True)
        )[0]
        assert restored.status_code == PENDING
        assert [c.id for c in restored.concepts] == ["cat", "dog"]
        assert screen.current is not None and screen.current.id == "p-0"
        # skip: the next free one, and the counter says so
        previous = screen.current
        await pilot.press("s")
        await settled(pilot, screen, previous)
        assert screen.current is not None and screen.current.id == "p-1"
        assert "1 skipped" in str(screen.query_one("#review-counter").render())
        # accept everything left: the queue empties (the skipped one stays PENDING)
        for _ in range(3):
            previous = screen.current
            await pilot.press("a")
            await settled(pilot, screen, previous)
        assert screen.current is None
        final = await statuses(client)
        assert final == {
            "p-0": PENDING,
            "p-1": AnnotationStatus.SUCCESS,
            "p-2": AnnotationStatus.SUCCESS,
            "p-3": AnnotationStatus.SUCCESS,
            "done-0": AnnotationStatus.SUCCESS,
        }
        assert "Nothing to review" in str(screen.query_one("#review-meta").render())


@pytest.mark.parametrize("atomic", [True, False])
async def test_two_reviewers_never_share_an_annotation(tmp_path: Path, atomic: bool) -> None:
    await seed(tmp_path, 6)
    async with backend_client(tmp_path) as (backend, client):
        router = backend.app.router
        claim_routes = {spec.name for spec in REVIEW_ROUTES}
        mounted = [r for r in router.routes if getattr(r, "name", "") in claim_routes]
        assert mounted, "the embedded backend mounts the review claims route"
        if not atomic:  # a server without the claims call (a real Clarifai app): take it away
            router.routes[:] = [r for r in router.routes if r not in mounted]
        queues = [ReviewQueue(client, reviewer=f"rev-{n}") for n in range(6)]
        if atomic:  # all at once: the server serialises the claims
            claimed = await asyncio.gather(*(q.next() for q in queues))
        else:  # best effort is only promised for reviewers that do not race
            claimed = [await q.next() for q in queues]
        got = [a.id for a in claimed if a is not None]
        assert sorted(got) == [f"p-{n}" for n in range(6)]
        assert all(q.atomic is atomic for q in queues)
        leases = {
            a.id: lease_of(a)
            for a in await client.list_annotations(list_all_annotations=True)
            if a.status_code == PENDING
        }
        assert {lease.owner for lease in leases.values() if lease} == {q.reviewer for q in queues}
        # nothing is left for a seventh reviewer...
        seventh = ReviewQueue(client, reviewer="rev-6")
        assert await seventh.next() is None
        assert seventh.counts is not None and seventh.counts.available == 0
        assert seventh.counts.pending == 6
        # ...until a reviewer skips one (its lease is released)
        await queues[0].skip()
        again = await seventh.next()
        assert again is not None and again.id == claimed[0].id  # type: ignore[union-attr]
        if not atomic:  # leases expire: seen from far in the future, every lease is free
            later = ReviewQueue(client, reviewer="later", clock=lambda: 4e9)
            assert await later.next() is not None


def test_review_snapshot(tmp_path: Path, snap_compare: Any) -> None:
    asyncio.run(seed(tmp_path))
    app = make_tui(tmp_path, app_id=APP, area="explorer")

    async def ready(pilot: Pilot[Any]) -> None:
        screen = await open_review(pilot)
        await pilot.press("j", "space")
        preview = screen.query_one("#review-preview")
        await wait_until(pilot, lambda: bool(preview.lines), what="preview")  # type: ignore[attr-defined]

    assert snap_compare(app, terminal_size=(80, 24), run_before=ready)


async def test_global_keys_work_in_review_and_quick_keys_are_queued(tmp_path: Path) -> None:
    """Issue #30: `1` opens Uploads from Review and `escape` comes back; five `a` pressed
    faster than the decisions are written are all carried out, in order."""
    await seed(tmp_path, count=6)
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_review(pilot)
        client = app.session.app_client()
        await pilot.press("1")
        await wait_until(pilot, lambda: app.current_mode == "uploads", what="Uploads")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.current_mode == "review", what="back in Review")
        await wait_until(pilot, lambda: screen.current is not None and not screen.busy)

        first = screen.current
        assert first is not None
        screen.action_accept()  # busy from here until the next one is shown
        assert screen.busy
        for _ in range(4):
            screen.action_accept()
        assert screen.pending == ["accept"] * 4
        await wait_until(
            pilot,
            lambda: (
                not screen.pending
                and not screen.busy
                and screen.queue is not None
                and screen.queue.reviewed == 5
            ),
            what="five decisions",
        )
        final = await statuses(client)
        accepted = [k for k, v in final.items() if v == AnnotationStatus.SUCCESS and k != "done-0"]
        assert len(accepted) == 5, final
        assert sum(1 for v in final.values() if v == PENDING) == 1


@pytest.mark.parametrize("atomic", [True, False])
async def test_a_restart_takes_back_the_leases_of_its_ended_session(
    tmp_path: Path, atomic: bool
) -> None:
    """Issue #30 item 8: after a quit (or a crash) the same person's old leases counted as
    "with other reviewers" until they expired. A live reviewer's lease is still respected."""
    await seed(tmp_path, 3)
    async with backend_client(tmp_path) as (backend, client):
        if not atomic:
            names = {spec.name for spec in REVIEW_ROUTES}
            backend.app.router.routes[:] = [
                r for r in backend.app.router.routes if getattr(r, "name", "") not in names
            ]
        me = reviewer_id().partition("/")[0]
        ended = ReviewQueue(client, reviewer=f"{me}/999999999-ended0")  # no such process
        alive = ReviewQueue(client, reviewer="colleague@elsewhere/123-abcdef")
        first, second = await ended.next(), await alive.next()
        assert first is not None and second is not None

        restarted = ReviewQueue(client)
        got = await restarted.next()
        assert restarted.reclaimed == 1
        assert got is not None and got.id != second.id
        assert restarted.counts is not None
        assert restarted.counts.available == 2 and restarted.counts.pending == 3
