"""The Explorer's query layer without Textual (issue #24): a filtered page is at most two
HTTP calls (PostInputsSearches, then ListAnnotations for its rows), every one of them a
request the platform's gateway parses, with the same answers as the walk it replaces."""

from __future__ import annotations

from pathlib import Path

from api.explore import Filters, InputPager
from api.local.backend import LocalBackend
from api.models import AnnotationStatus, Concept, NewAnnotation, NewInput
from tests.client.platform_rules import Recorder, checked_client
from tests.tui_helpers import png_bytes

KEY = "explore-test-key"
APP = "explore"


async def test_a_filtered_page_is_two_calls_the_platform_parses(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "data", api_key=KEY)
    await backend.start()
    recorder = Recorder()
    client = checked_client(backend, recorder, KEY)
    try:
        await client.create_app(APP)
        app = client.with_app(APP)
        made = await app.post_inputs(
            [NewInput(data=png_bytes((i * 7 % 256, 30, 60)), id=f"in-{i:02d}") for i in range(25)]
        )
        assert all(r.ok for r in made)
        await backend.wait_idle(60)
        await app.post_annotations(
            [
                NewAnnotation(
                    f"in-{i:02d}",
                    (Concept("walker", value=1.0),) if i % 2 else (Concept("runner", value=1.0),),
                    status_code=AnnotationStatus.PENDING if i % 3 else AnnotationStatus.SUCCESS,
                    id=f"an-{i:02d}",
                )
                for i in range(25)
            ]
        )
        expected = sorted(f"in-{i:02d}" for i in range(25) if i % 2 and i % 3)  # walker, PENDING
        pager = InputPager(
            app,
            Filters(concept="walker", annotation_status=AnnotationStatus.PENDING),
            per_page=4,
        )
        seen: list[str] = []
        number = 1
        while True:
            before = len(recorder.seen)
            data = await pager.page(number)
            calls = recorder.seen[before:]
            assert len(calls) <= 2, calls
            assert any(c.endswith("/inputs/searches") for c in calls), calls
            seen += [r.id for r in data.rows]
            assert all(
                any(
                    a.status_code == AnnotationStatus.PENDING
                    and [c.id for c in a.concepts] == ["walker"]
                    for a in r.annotations
                )
                for r in data.rows
            )
            if not data.has_next:
                break
            number += 1
        assert sorted(seen) == expected
        assert not recorder.problems, recorder.problems
    finally:
        await client.aclose()
        await backend.stop()
