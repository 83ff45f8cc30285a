"""Issue 9, "Done when": on the demo app a new user reviews twenty PENDING annotations by keyboard
and sees the counts move (the review counter, and the Explorer's filter by annotation status),
every decision read back from the server."""

from __future__ import annotations

from pathlib import Path

from api.demo import DEMO_APP_ID
from api.demo_setup import setup_demo
from api.models import AnnotationStatus, Concept, NewAnnotation
from screens.explorer import ExplorerScreen
from tests.screens.test_explorer import backend_client, filtered, ids, loaded, status_line
from tests.screens.test_review import open_review, settled
from tests.tui_helpers import make_tui, wait_until

PENDING, SUCCESS, DENIED = (
    AnnotationStatus.PENDING,
    AnnotationStatus.SUCCESS,
    AnnotationStatus.REVIEW_DENIED,
)
QUEUED = 22
DECISIONS = "a" * 14 + "r" * 6  # twenty: fourteen accepted, six rejected


async def test_twenty_pending_reviews_on_the_demo_app(tmp_path: Path) -> None:
    async with backend_client(tmp_path) as (_backend, client):
        result = await setup_demo(client, count=60, labels_per_concept=2, wait=60)
        assert result.processed and result.uploaded == 60
        demo = client.with_app(DEMO_APP_ID)
        labelled = {a.input_id for a in await demo.list_annotations(per_page=100)}
        unlabelled = [i.id for i in await demo.list_inputs(per_page=100) if i.id not in labelled]
        # What a PENDING writer would have left: the model's two best guesses, unsure.
        for n, input_id in enumerate(unlabelled[:QUEUED]):
            await demo.post_annotations(
                [
                    NewAnnotation(
                        input_id,
                        (Concept("seven", "seven", 0.74), Concept("one", "one", 0.51)),
                        status_code=PENDING,
                        id=f"pending-{n:02d}",
                    )
                ]
            )

    app = make_tui(tmp_path, app_id=DEMO_APP_ID, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_review(pilot)

        def counter() -> str:
            return str(screen.query_one("#review-counter").render())

        assert f"{QUEUED} left to review" in counter()
        for done, key in enumerate(DECISIONS, start=1):
            previous = screen.current
            await pilot.press(key)
            await settled(pilot, screen, previous)
            assert f"{QUEUED - done} left to review" in counter(), (done, counter())

        demo = app.session.app_client()
        reviewed = {
            a.id: a.status_code
            for a in await demo.list_annotations(list_all_annotations=True, per_page=100)
            if a.id.startswith("pending-")
        }
        statuses = sorted(reviewed.values())
        assert statuses.count(SUCCESS) == 14 and statuses.count(DENIED) == 6
        assert statuses.count(PENDING) == QUEUED - 20

        # The Explorer agrees: filtered by PENDING annotations, two inputs are left.
        await pilot.press("colon", *"explorer", "enter")  # number keys toggle concepts here
        await wait_until(pilot, lambda: isinstance(app.screen, ExplorerScreen), what="explorer")
        explorer = app.screen
        assert isinstance(explorer, ExplorerScreen)
        await loaded(pilot, explorer)
        for _ in range(2):  # annotation status: any -> SUCCESS -> PENDING
            old = explorer.data
            await pilot.press("a")
            await filtered(pilot, explorer, old)
        assert "ann=PENDING" in status_line(explorer)
        pending_inputs = {i for i, code in reviewed.items() if code == PENDING}
        assert len(ids(explorer)) == len(pending_inputs) == QUEUED - 20
