"""Wire round trips and parsing details."""

from __future__ import annotations

import re
import string

from hypothesis import given
from hypothesis import strategies as st

from api import wire
from api.errors import status_name
from api.models import (
    Concept,
    NewInput,
    Page,
    Workflow,
    WorkflowNode,
    content_input_id,
    url_input_id,
)

ID_RE = re.compile(r"^[a-z0-9]{32}$")
ids = st.text(alphabet=string.ascii_lowercase + string.digits + "-_", min_size=1, max_size=20)


@given(st.binary(max_size=256), st.text(max_size=100))
def test_derived_ids_are_valid_and_stable(data: bytes, url: str) -> None:
    assert ID_RE.match(content_input_id(data)) and content_input_id(data) == content_input_id(data)
    assert ID_RE.match(url_input_id(url))
    assert content_input_id(url.encode()) != url_input_id(url)


@given(ids, st.text(max_size=20), st.floats(min_value=0, max_value=1))
def test_concept_round_trip(cid: str, name: str, value: float) -> None:
    concept = Concept(cid, name, value)
    assert wire.concept_from(wire.concept_json(concept)) == concept


@given(
    st.lists(st.tuples(ids, ids, st.booleans()), min_size=1, max_size=6, unique_by=lambda t: t[0])
)
def test_workflow_round_trip(spec: list[tuple[str, str, bool]]) -> None:
    nodes = []
    for position, (node_id, model_id, suppress) in enumerate(spec):
        inputs = (spec[position - 1][0],) if position else ()
        nodes.append(WorkflowNode(node_id, model_id, "v" if suppress else "", inputs, suppress))
    workflow = Workflow("wf", tuple(nodes))
    assert wire.workflow_from(wire.workflow_json(workflow)) == workflow


def test_new_input_json_and_back() -> None:
    item = NewInput(data=b"abc", concepts=(Concept("cat"),), metadata={"k": "v"})
    raw = wire.new_input_json(item)
    assert raw["id"] == content_input_id(b"abc")
    parsed = wire.input_from({**raw, "status": {"code": 30001}})
    assert parsed.concepts == (Concept("cat", "", 1.0),) and parsed.metadata == {"k": "v"}
    assert parsed.processing


def test_lower_camel_case_accepted() -> None:
    app = wire.app_from({"id": "a", "defaultWorkflowId": "wf", "createdAt": "2024-01-02T03:04:05Z"})
    assert app.default_workflow_id == "wf" and app.created_at is not None
    model = wire.model_from({"id": "m", "modelTypeId": "t", "outputInfo": {"params": {"x": 1}}})
    assert model.model_type_id == "t" and model.params == {"x": 1}


def test_parse_time_variants() -> None:
    assert wire.parse_time("2024-01-02T03:04:05.1Z").microsecond == 100000  # type: ignore[union-attr]
    assert wire.parse_time("2024-01-02T03:04:05.123456789+00:00").microsecond == 123456  # type: ignore[union-attr]
    assert wire.parse_time("nonsense") is None and wire.parse_time(None) is None


def test_missing_value_is_protobuf_default_zero() -> None:
    assert wire.concept_from({"id": "c"}).value == 0.0


def test_batch_results_by_id_and_missing_items() -> None:
    results = wire.batch_results(
        ["a", "b", "c"],
        [{"id": "b", "status": {"code": 30100}}, {"id": "a", "status": {"code": 30001}}],
        10010,
        "Mixed",
        "",
        wire.input_from,
        status_name,
    )
    assert [r.outcome for r in results] == ["created", "duplicate", "failed"]
    assert results[2].status_name == "MIXED_STATUS"


def test_page_is_a_sequence() -> None:
    page = Page([1, 2], page=3, per_page=2)
    assert list(page) == [1, 2] and page[1] == 2 and page.has_more and len(page) == 2
    assert not Page([1], page=1, per_page=2).has_more
    assert page == Page([1, 2], page=3, per_page=2)


def test_workflow_results_map_suppressed_nodes() -> None:
    nodes = (
        WorkflowNode("embed", "emb", suppress_output=True),
        WorkflowNode("classify", "clf", node_inputs=("embed",)),
    )
    body = {"results": [{"input": {"id": "i"}, "outputs": [{"model": {"id": "clf"}}]}]}
    [result] = wire.workflow_results_from(body, nodes)
    assert result.outputs[0].node_id == "classify"


def test_annotation_reads_its_worker_first() -> None:
    # The platform answers `worker`; user_id / model_version_id are deprecated and may be
    # missing: the human-vs-model split of labelling and concepts depends on reading it.
    by_model = wire.annotation_from(
        {"id": "a", "input_id": "i", "worker": {"model": {"id": "w", "model_version": {"id": "v"}}}}
    )
    assert (by_model.model_version_id, by_model.user_id) == ("v", "")
    by_person = wire.annotation_from({"id": "b", "input_id": "i", "worker": {"user": {"id": "u"}}})
    assert (by_person.user_id, by_person.model_version_id) == ("u", "")
    legacy = wire.annotation_from({"id": "c", "user_id": "old", "model_version_id": "mv"})
    assert (legacy.user_id, legacy.model_version_id) == ("old", "mv")
