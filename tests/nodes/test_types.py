"""The model-type registry parses as clarifai ModelType protos and normalises aliases."""

from __future__ import annotations

import pytest
from clarifai_grpc.grpc.api import resources_pb2
from google.protobuf import json_format

from api.local.nodes.thresholder import Comparator
from api.local.nodes.types import (
    MODEL_TYPES,
    Kind,
    UnknownModelType,
    get_model_type,
    list_model_types,
    normalise_type_id,
)


def test_every_type_parses_as_a_model_type_proto() -> None:
    parsed = [json_format.ParseDict(d, resources_pb2.ModelType()) for d in list_model_types()]
    assert [p.id for p in parsed] == [
        "visual-embedder",
        "embedding-classifier",
        "concept-thresholder",
        "annotation-writer",
    ]
    classifier = parsed[1]
    assert classifier.title == "Context-Based Classifier"
    assert classifier.trainable
    assert [f.path for f in classifier.model_type_fields] == ["output_info.data.concepts"]
    paths = {f.path for p in parsed for f in p.model_type_fields}
    assert {
        "output_info.data.concepts",
        "output_info.params.concept_threshold_type",
        "output_info.params.annotation_status",
        "output_info.params.annotation_user_id",
        "output_info.params.annotation_info",
    } <= paths


def test_kinds_chain_image_to_annotation() -> None:
    chain = [(t.input_kind, t.output_kind) for t in MODEL_TYPES.values()]
    assert chain == [
        (Kind.IMAGE, Kind.EMBEDDINGS),
        (Kind.EMBEDDINGS, Kind.CONCEPTS),
        (Kind.CONCEPTS, Kind.CONCEPTS),
        (Kind.CONCEPTS, Kind.ANNOTATION),
    ]
    assert [t.trainable for t in MODEL_TYPES.values()] == [False, True, False, False]


def test_comparator_options_match_the_proto_enum() -> None:
    field = next(
        f
        for f in get_model_type("concept-thresholder").fields
        if f["path"].endswith("concept_threshold_type")
    )
    options = {o["id"]: o["aliases"][0]["id_int"] for o in field["model_type_enum_options"]}
    assert options == {v.name: v.number for v in resources_pb2.ValueComparator.DESCRIPTOR.values}
    assert {c.name: c.value for c in Comparator} == options


def test_alias_is_normalised() -> None:
    assert normalise_type_id("concept-threshold") == "concept-thresholder"
    assert get_model_type("concept-threshold").id == "concept-thresholder"


def test_unknown_type_names_the_known_ones() -> None:
    with pytest.raises(UnknownModelType, match=r"'visual-detector'.*embedding-classifier"):
        normalise_type_id("visual-detector")
