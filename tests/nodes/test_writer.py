"""Writer params: statuses accepted and refused, user, info; plans, none for no concepts."""

from __future__ import annotations

import pytest
from clarifai_grpc.grpc.api import resources_pb2
from google.protobuf import json_format

from api.local.nodes.common import ConfigError, ScoredConcept
from api.local.nodes.writer import (
    ANNOTATION_PENDING,
    ANNOTATION_SUCCESS,
    WriterConfig,
    parse_annotation_status,
    parse_writer,
    plan_annotation,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (24150, ANNOTATION_SUCCESS),
        (24151.0, ANNOTATION_PENDING),
        ("24150", ANNOTATION_SUCCESS),
        ("ANNOTATION_PENDING", ANNOTATION_PENDING),
        ("success", ANNOTATION_SUCCESS),
        ("Pending", ANNOTATION_PENDING),
    ],
)
def test_accepted_statuses(raw: object, expected: int) -> None:
    assert parse_annotation_status(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (24152, "24152 (ANNOTATION_FAILED) is not a status a writer can write"),
        (24157.0, "24157 (ANNOTATION_AWAITING_REVIEW) is not a status"),
        ("ANNOTATION_REVIEW_DENIED", "'ANNOTATION_REVIEW_DENIED' is not allowed"),
        (10000, "10000 is not a status a writer can write"),
        (24150.5, "expected a whole number or a name"),
        (True, "boolean"),
        (None, "missing"),
    ],
)
def test_refused_statuses(raw: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_annotation_status(raw)
    assert err.value.field == "output_info.params.annotation_status"
    assert message in str(err.value)
    if not isinstance(raw, bool | float) or raw == 24157.0:
        assert "24150 (ANNOTATION_SUCCESS) or 24151 (ANNOTATION_PENDING)" in str(err.value)


def test_parse_writer_full() -> None:
    config = parse_writer(
        {
            "params": {
                "annotation_status": 24151.0,
                "annotation_user_id": "reviewer",
                "annotation_info": {"source": "auto"},
            }
        },
        default_user_id="owner",
    )
    assert config == WriterConfig(ANNOTATION_PENDING, "reviewer", {"source": "auto"})


def test_parse_writer_user_defaults_to_owner() -> None:
    config = parse_writer({"params": {"annotation_status": "ANNOTATION_SUCCESS"}}, "owner")
    assert config.user_id == "owner" and config.annotation_info is None


def test_parse_writer_errors() -> None:
    with pytest.raises(ConfigError, match="annotation_user_id: missing"):
        parse_writer({"params": {"annotation_status": 24150}})
    with pytest.raises(ConfigError, match="annotation_user_id: expected a user id"):
        parse_writer({"params": {"annotation_status": 24150, "annotation_user_id": 7}})
    with pytest.raises(ConfigError, match="annotation_info: expected a JSON object, got str"):
        parse_writer({"params": {"annotation_status": 24150, "annotation_info": "x"}}, "owner")
    with pytest.raises(ConfigError, match="annotation_status: missing"):
        parse_writer({}, "owner")


def test_plan_and_empty_plan() -> None:
    config = WriterConfig(ANNOTATION_SUCCESS, "owner", {"k": 1})
    concepts = [ScoredConcept("walker", "walker", 0.97)]
    plan = plan_annotation("in1", concepts, config, "ver1")
    assert plan is not None
    assert plan.to_dict() == {
        "input_id": "in1",
        "data": {"concepts": [{"id": "walker", "name": "walker", "value": 0.97}]},
        "user_id": "owner",
        "model_version_id": "ver1",
        "status": {"code": 24150},
        "annotation_info": {"k": 1},
    }
    json_format.ParseDict(plan.to_dict(), resources_pb2.Annotation())
    assert plan_annotation("in1", [], config, "ver1") is None
