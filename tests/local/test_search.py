"""PostInputsSearches and PostAnnotationsSearches on the embedded backend (issue #24).

One app, twelve inputs; annotations by a person and by a "model" (a writer's version id), with
SUCCESS, PENDING and REVIEW_DENIED statuses and positive and negative concepts. Each test asks
one question and checks the exact hits, in order, against what the data says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from clarifai_grpc.grpc.api import service_pb2

import api.local.search as search_module
from api.local.backend import LocalBackend
from api.local.rows import ConceptValue, NewAnnotation
from tests.local.conftest import APP, client_for, image_input, make_backend, parse

SUCCESS, PENDING, DENIED = 24150, 24151, 24158
WRITER = "writer-version-1"

# input id -> [(annotation id, concepts {id: value}, status, model version or "" for a person)]
DATA: dict[str, list[tuple[str, dict[str, float], int, str]]] = {
    "in-00": [("h-00", {"walker": 1}, SUCCESS, "")],
    "in-01": [("h-01", {"runner": 1}, SUCCESS, ""), ("m-01", {"walker": 0.97}, SUCCESS, WRITER)],
    "in-02": [("m-02", {"walker": 0.7}, PENDING, WRITER)],
    "in-03": [("m-03", {"runner": 0.6}, PENDING, WRITER)],
    "in-04": [("h-04", {"walker": 0}, SUCCESS, "")],  # a negative label
    "in-05": [("m-05", {"walker": 0.65}, DENIED, WRITER)],
    "in-06": [],
    "in-07": [("m-07", {"walker": 0.6, "runner": 0.55}, PENDING, WRITER)],
    "in-08": [("h-08", {"stroller": 1}, SUCCESS, "")],
    "in-09": [],
    "in-10": [("m-10", {"runner": 0.99}, SUCCESS, WRITER)],
    "in-11": [("h-11", {"walker": 1, "runner": 1}, PENDING, "")],
}


@pytest.fixture(params=["driven by the annotations", "walking the inputs"])
async def searched(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[LocalBackend, httpx.AsyncClient]]:
    """Every search test runs with both plans of an input search: a rare first filter drives
    the query from the annotation index, a common one walks the inputs (same answers)."""
    if request.param == "walking the inputs":
        monkeypatch.setattr(search_module, "COMMON_MATCHES", 1)
    backend = make_backend(tmp_path / "data")
    await backend.start()
    try:
        async with client_for(backend) as http:
            await http.post("/v2/users/me/apps", json={"apps": [{"id": "app"}]})
            names = [{"id": c, "name": c.capitalize()} for c in ("walker", "runner", "stroller")]
            r = await http.post(f"{APP}/concepts", json={"concepts": names})
            assert r.status_code == 200, r.text
            inputs = [image_input(ident) for ident in DATA]
            r = await http.post(f"{APP}/inputs", json={"inputs": inputs})
            assert r.status_code == 200, r.text
            await backend.wait_idle(30)
            app = backend.store.get_app(backend.user_id, "app")
            assert app is not None
            new = [
                NewAnnotation(
                    id=ident,
                    input_id=input_id,
                    user_id=backend.user_id,
                    concepts=[ConceptValue(c, value=v) for c, v in concepts.items()],
                    model_version_id=version,
                    status_code=status,
                )
                for input_id, annotations in DATA.items()
                for ident, concepts, status, version in annotations
            ]
            backend.store.add_annotations(app.pk, new)
            yield backend, http
    finally:
        await backend.stop()


def query(*filters: dict[str, Any], page: int = 1, per_page: int = 50) -> dict[str, Any]:
    return {
        "searches": [{"query": {"filters": list(filters)}}],
        "pagination": {"page": page, "per_page": per_page},
    }


async def input_hits(http: httpx.AsyncClient, body: dict[str, Any]) -> list[str]:
    r = await http.post(f"{APP}/inputs/searches", json=body)
    assert r.status_code == 200, r.text
    parse(r.json(), service_pb2.MultiSearchResponse)
    return [hit["input"]["id"] for hit in r.json()["hits"]]


async def annotation_hits(http: httpx.AsyncClient, body: dict[str, Any]) -> list[str]:
    r = await http.post(f"{APP}/annotations/searches", json=body)
    assert r.status_code == 200, r.text
    payload = r.json()
    parse(payload, service_pb2.MultiSearchResponse)
    for hit in payload["hits"]:
        assert hit["annotation"]["input_id"] == hit["input"]["id"]
    return [hit["annotation"]["id"] for hit in payload["hits"]]


def expected_inputs(keep: Any) -> list[str]:
    """Input ids whose annotation list satisfies ``keep``, newest first (as the hits come)."""
    return [ident for ident, annotations in reversed(DATA.items()) if keep(annotations)]


def status_filter(code: int) -> dict[str, Any]:
    return {"annotation": {"status": {"code": code}}}


async def test_inputs_by_annotation_status(
    searched: tuple[LocalBackend, httpx.AsyncClient],
) -> None:
    _, http = searched
    for code in (SUCCESS, PENDING, DENIED):
        found = await input_hits(http, query(status_filter(code)))
        assert found == expected_inputs(lambda a, code=code: any(s == code for *_, s, _v in a))


async def test_concept_filters_positive_negative_by_name_and_ored(
    searched: tuple[LocalBackend, httpx.AsyncClient],
) -> None:
    _, http = searched

    def concept(**c: Any) -> dict[str, Any]:
        return {"annotation": {"data": {"concepts": [c]}}}

    # No status: trusted (SUCCESS) annotations only.
    walkers = await input_hits(http, query(concept(id="walker", value=1)))
    assert walkers == ["in-01", "in-00"]
    assert await input_hits(http, query(concept(name="Walker", value=1))) == walkers
    assert await input_hits(http, query(concept(id="walker", value=0))) == ["in-04"]
    assert await input_hits(http, query(concept(name="nobody"))) == []
    either = {"annotation": {"data": {"concepts": [{"id": "stroller"}, {"id": "runner"}]}}}
    assert await input_hits(http, query(either)) == ["in-10", "in-08", "in-01"]


async def test_filters_are_anded_and_negate_inverts_one(
    searched: tuple[LocalBackend, httpx.AsyncClient],
) -> None:
    _, http = searched
    pending_walker = {
        "annotation": {"status": {"code": PENDING}, "data": {"concepts": [{"id": "walker"}]}}
    }
    assert await input_hits(http, query(pending_walker)) == ["in-11", "in-07", "in-02"]
    not_pending = {**status_filter(PENDING), "negate": True}
    found = await input_hits(http, query(not_pending))
    assert found == expected_inputs(lambda a: all(s != PENDING for *_, s, _v in a))
    both = await input_hits(http, query(status_filter(SUCCESS), not_pending))
    assert both == ["in-10", "in-08", "in-04", "in-01", "in-00"]
    by_model = {"annotation": {"model_version_id": WRITER, "status": {"code": PENDING}}}
    assert await input_hits(http, query(by_model)) == ["in-07", "in-03", "in-02"]
    by_worker = {"annotation": {"worker": {"model": {"model_version": {"id": WRITER}}}}}
    assert await input_hits(http, query(by_worker)) == ["in-10", "in-01"]
    ready = {"input": {"status": {"code": 30000}}}
    assert await input_hits(http, query(ready)) == expected_inputs(lambda a: True)


async def test_pages_are_exact_and_stable(searched: tuple[LocalBackend, httpx.AsyncClient]) -> None:
    _, http = searched
    everything = expected_inputs(lambda a: True)
    pages = [await input_hits(http, query(page=p, per_page=5)) for p in (1, 2, 3, 4)]
    assert pages[0] + pages[1] + pages[2] == everything
    assert [len(p) for p in pages] == [5, 5, 2, 0]
    assert await input_hits(http, query(page=2, per_page=5)) == pages[1]


async def test_annotation_search_answers_annotations_with_their_input(
    searched: tuple[LocalBackend, httpx.AsyncClient],
) -> None:
    _, http = searched
    pending_walker = {
        "annotation": {"status": {"code": PENDING}, "data": {"concepts": [{"id": "walker"}]}}
    }
    assert await annotation_hits(http, query(pending_walker)) == ["h-11", "m-07", "m-02"]
    # No filter at all: every trusted (SUCCESS) annotation, newest first.
    trusted = [a for items in DATA.values() for a, _c, s, _v in items if s == SUCCESS]
    assert await annotation_hits(http, query()) == list(reversed(trusted))
    people = {"annotation": {"user_id": "me", "status": {"code": PENDING}}}
    assert await annotation_hits(http, query(people)) == ["h-11", "m-07", "m-03", "m-02"]
    mine = {"annotation": {"worker": {"user": {"id": "me"}}, "status": {"code": DENIED}}}
    assert await annotation_hits(http, query(mine)) == ["m-05"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"searches": [{"query": {"ranks": [{"annotation": {"data": {"concepts": [{}]}}}]}}]},
            "searches[0].query.ranks",
        ),
        (
            {
                "searches": [
                    {"query": {"filters": [{"annotation": {"data": {"metadata": {"a": 1}}}}]}}
                ]
            },
            "searches[0].query.filters[0].annotation.data.metadata",
        ),
        ({"searches": [{"query": {}}, {"query": {}}]}, "searches[1].query"),
        ({}, "searches"),
        (
            {"searches": [{"query": {"filters": [{"annotation": {"status": {"code": 30000}}}]}}]},
            "searches[0].query.filters[0].annotation.status.code",
        ),
        ({"searches": [{"query": {}}], "pagination": {"per_page": 5000}}, "pagination.per_page"),
    ],
)
async def test_what_cannot_be_answered_is_refused_naming_the_field(
    searched: tuple[LocalBackend, httpx.AsyncClient], body: dict[str, Any], field: str
) -> None:
    _, http = searched
    r = await http.post(f"{APP}/inputs/searches", json=body)
    assert r.status_code == 400, r.text
    status = r.json()["status"]
    assert status["code"] == 11102
    assert status["description"].startswith(f"{field}:") or f"{field}:" in status["description"]
