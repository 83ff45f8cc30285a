"""Comparator parsing, each comparison, per-concept thresholds."""

from __future__ import annotations

import pytest
from clarifai_grpc.grpc.api import resources_pb2

from api.local.nodes.common import ConfigError, ScoredConcept
from api.local.nodes.thresholder import (
    DEFAULT_HIGH,
    DEFAULT_LOW,
    Comparator,
    ThresholderConfig,
    apply_thresholds,
    parse_comparator,
    parse_thresholder,
    passes,
)

C = Comparator


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1, C.GREATER_THAN),
        (3.0, C.LESS_THAN),
        ("4", C.LESS_THAN_OR_EQUAL),
        ("5.0", C.EQUAL),
        ("GREATER_THAN_OR_EQUAL", C.GREATER_THAN_OR_EQUAL),
        ("less_than", C.LESS_THAN),
        (" EQUAL ", C.EQUAL),
        ("CONCEPT_THRESHOLD_NOT_SET", C.CONCEPT_THRESHOLD_NOT_SET),
        (0, C.CONCEPT_THRESHOLD_NOT_SET),
        (None, C.CONCEPT_THRESHOLD_NOT_SET),
        (C.GREATER_THAN, C.GREATER_THAN),
    ],
)
def test_parse_comparator(raw: object, expected: Comparator) -> None:
    assert parse_comparator(raw) is expected


def test_every_proto_value_parses_by_name_and_number() -> None:
    for value in resources_pb2.ValueComparator.DESCRIPTOR.values:
        assert parse_comparator(value.name) == value.number
        assert parse_comparator(float(value.number)) == value.number


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (6, "6 is not a comparator; allowed: 0 CONCEPT_THRESHOLD_NOT_SET, 1 GREATER_THAN"),
        (2.5, "expected a whole number or a name, got 2.5"),
        ("BIGGER", "'BIGGER' is not a comparator"),
        (True, "boolean"),
        ([1], "got list"),
    ],
)
def test_bad_comparators(raw: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_comparator(raw)
    assert err.value.field == "output_info.params.concept_threshold_type"
    assert message in str(err.value)
    assert str(err.value).startswith("output_info.params.concept_threshold_type: ")


@pytest.mark.parametrize(
    ("comparator", "below", "at", "above"),
    [
        (C.GREATER_THAN, False, False, True),
        (C.GREATER_THAN_OR_EQUAL, False, True, True),
        (C.LESS_THAN, True, False, False),
        (C.LESS_THAN_OR_EQUAL, True, True, False),
        (C.EQUAL, False, True, False),
        (C.CONCEPT_THRESHOLD_NOT_SET, False, True, True),  # behaves as >=
    ],
)
def test_each_comparison(comparator: Comparator, below: bool, at: bool, above: bool) -> None:
    assert passes(0.4, comparator, 0.5) is below
    assert passes(0.5, comparator, 0.5) is at
    assert passes(0.6, comparator, 0.5) is above


def _scored(**values: float) -> list[ScoredConcept]:
    return [ScoredConcept(k, k.title(), v) for k, v in values.items()]


@pytest.mark.parametrize(
    ("comparator", "kept"),
    [
        (C.GREATER_THAN, ["walker"]),
        (C.GREATER_THAN_OR_EQUAL, ["walker", "runner"]),
        (C.LESS_THAN, ["stroller"]),
        (C.LESS_THAN_OR_EQUAL, ["runner", "stroller"]),
        (C.EQUAL, ["runner"]),
        (C.CONCEPT_THRESHOLD_NOT_SET, ["walker", "runner"]),
    ],
)
def test_apply_per_concept_thresholds(comparator: Comparator, kept: list[str]) -> None:
    concepts = _scored(walker=0.95, runner=0.3, stroller=0.1, bike_rider=0.99)
    config = ThresholderConfig({"walker": 0.9, "runner": 0.3, "stroller": 0.2}, comparator)
    # bike_rider has no threshold: always dropped.
    assert [c.id for c in apply_thresholds(concepts, config)] == kept


def test_parse_thresholder_from_output_info() -> None:
    config = parse_thresholder(
        {
            "data": {"concepts": [{"id": "walker", "value": 0.9}, {"id": "runner"}]},
            "params": {"concept_threshold_type": 3.0},
        }
    )
    assert config.comparator is C.LESS_THAN
    assert config.thresholds == {"walker": 0.9, "runner": 0.0}  # omitted value means 0


def test_parse_thresholder_defaults_and_errors() -> None:
    empty = parse_thresholder({})
    assert empty.thresholds == {} and empty.comparator is C.CONCEPT_THRESHOLD_NOT_SET
    assert apply_thresholds(_scored(a=1.0), empty) == []
    with pytest.raises(ConfigError, match=r"output_info.data.concepts\[0\]: .*needs an id"):
        parse_thresholder({"data": {"concepts": [{"value": 0.5}]}})
    with pytest.raises(ConfigError, match=r"concepts\[1\].value: expected a number"):
        parse_thresholder({"data": {"concepts": [{"id": "a"}, {"id": "b", "value": "high"}]}})
    with pytest.raises(ConfigError, match=r"output_info\.params: expected an object"):
        parse_thresholder({"params": [1]})


def test_default_band() -> None:
    assert 0 < DEFAULT_LOW < DEFAULT_HIGH < 1
