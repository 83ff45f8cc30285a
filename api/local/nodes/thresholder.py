"""The ``concept-thresholder`` model: keep the concepts whose value passes a comparison.

Public API
----------
- ``Comparator``: mirrors ``clarifai.api.ValueComparator`` (same names and numbers).
- ``parse_comparator(value) -> Comparator``: accepts a ``Comparator``, a number (``3``,
  ``3.0`` as protobuf Structs deliver it, ``"3"``) or a name (``"LESS_THAN"``, any
  case). ``None`` -> ``CONCEPT_THRESHOLD_NOT_SET``. Anything else raises ``ConfigError``
  naming ``output_info.params.concept_threshold_type`` and the allowed values.
- ``ThresholderConfig(thresholds, comparator)`` and
  ``parse_thresholder(output_info) -> ThresholderConfig`` from a model's ``output_info``
  dict (``data.concepts[].id/value``, ``params.concept_threshold_type``); a threshold
  concept without ``id`` is matched by its ``name``.
- ``apply_thresholds(concepts, config) -> list[ScoredConcept]``: the kept concepts, in
  their incoming order.
- ``passes(value, comparator, threshold) -> bool``.
- ``DEFAULT_HIGH`` / ``DEFAULT_LOW``: the guided setup's thresholds (see below).

Semantics
---------
A concept is kept when ``value <op> threshold`` holds for its own threshold; incoming
concepts without a threshold are dropped. A threshold concept without ``value`` means
0.0 (proto3 JSON omits zero values, so the official client never sends ``"value": 0``).
``EQUAL`` compares with a tolerance of 1e-6 (predictions are float32-derived).

``CONCEPT_THRESHOLD_NOT_SET`` (or a missing ``concept_threshold_type``) behaves as
``GREATER_THAN_OR_EQUAL``. Clarifai's docs do not define it; ``>=`` matches the platform's
other thresholding knob (predict ``output_config.min_value`` keeps ``value >= min_value``)
and keeps a model created without the param useful instead of refusing it.

Default thresholds
------------------
``DEFAULT_HIGH = 0.9``: on the digits benchmark (``benchmarks/digits_quality.py``,
50 labelled images per concept) SUCCESS annotations from ``GREATER_THAN 0.9`` are about
0.998 precise and cover about 0.93 of held-out inputs (targets 0.98 and 0.60).
``DEFAULT_LOW = 0.5``: the review band is ``(0.5, 0.9]``. Above 0.5, at most one concept of
an exclusive (softmax) classifier can pass, so a PENDING annotation proposes a single
concept and accepting or rejecting it is one clean decision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

from api.local.nodes.common import ConfigError, ScoredConcept, as_int_code

DEFAULT_HIGH: Final = 0.9
DEFAULT_LOW: Final = 0.5

COMPARATOR_FIELD: Final = "output_info.params.concept_threshold_type"
CONCEPTS_FIELD: Final = "output_info.data.concepts"
_EQUAL_TOLERANCE: Final = 1e-6


class Comparator(IntEnum):
    """``clarifai.api.ValueComparator``."""

    CONCEPT_THRESHOLD_NOT_SET = 0
    GREATER_THAN = 1
    GREATER_THAN_OR_EQUAL = 2
    LESS_THAN = 3
    LESS_THAN_OR_EQUAL = 4
    EQUAL = 5


def _allowed() -> str:
    return ", ".join(f"{c.value} {c.name}" for c in Comparator)


def parse_comparator(value: object) -> Comparator:
    """A wire value (number, float, digit string, name or None) -> Comparator."""
    if value is None:
        return Comparator.CONCEPT_THRESHOLD_NOT_SET
    if isinstance(value, Comparator):
        return value
    code = as_int_code(value, COMPARATOR_FIELD)
    if code is not None:
        try:
            return Comparator(code)
        except ValueError:
            raise ConfigError(
                COMPARATOR_FIELD, f"{code} is not a comparator; allowed: {_allowed()}"
            ) from None
    name = str(value).strip().upper()
    try:
        return Comparator[name]
    except KeyError:
        raise ConfigError(
            COMPARATOR_FIELD, f"{value!r} is not a comparator; allowed: {_allowed()}"
        ) from None


def passes(value: float, comparator: Comparator, threshold: float) -> bool:
    """Whether ``value <comparator> threshold`` holds (NOT_SET behaves as ``>=``)."""
    if comparator is Comparator.GREATER_THAN:
        return value > threshold
    if comparator in (Comparator.GREATER_THAN_OR_EQUAL, Comparator.CONCEPT_THRESHOLD_NOT_SET):
        return value >= threshold
    if comparator is Comparator.LESS_THAN:
        return value < threshold
    if comparator is Comparator.LESS_THAN_OR_EQUAL:
        return value <= threshold
    return abs(value - threshold) <= _EQUAL_TOLERANCE


@dataclass(frozen=True)
class ThresholderConfig:
    """Per-concept thresholds (concept id -> threshold) and one comparator."""

    thresholds: Mapping[str, float]
    comparator: Comparator = Comparator.CONCEPT_THRESHOLD_NOT_SET


def _mapping(value: object, field: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(field, f"expected an object, got {type(value).__name__}")
    return value


def parse_thresholder(output_info: Mapping[str, Any] | None) -> ThresholderConfig:
    """Read thresholds and comparator from a model's ``output_info`` dict."""
    info = _mapping(output_info, "output_info")
    data = _mapping(info.get("data"), "output_info.data")
    params = _mapping(info.get("params"), "output_info.params")
    raw = data.get("concepts") or []
    if not isinstance(raw, list):
        raise ConfigError(CONCEPTS_FIELD, "expected a list of {id, value} concepts")
    thresholds: dict[str, float] = {}
    for n, concept in enumerate(raw):
        where = f"{CONCEPTS_FIELD}[{n}]"
        if not isinstance(concept, Mapping):
            raise ConfigError(where, "expected an object with id and value")
        cid = concept.get("id") or concept.get("name")
        if not isinstance(cid, str) or not cid:
            raise ConfigError(where, "a threshold concept needs an id")
        value = concept.get("value", 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}.value", f"expected a number, got {value!r}")
        if not math.isfinite(float(value)):
            raise ConfigError(f"{where}.value", f"expected a finite number, got {value!r}")
        thresholds[cid] = float(value)
    comparator = parse_comparator(params.get("concept_threshold_type"))
    return ThresholderConfig(thresholds=thresholds, comparator=comparator)


def apply_thresholds(
    concepts: Iterable[ScoredConcept], config: ThresholderConfig
) -> list[ScoredConcept]:
    """The incoming concepts that have a threshold and pass it, in incoming order."""
    kept: list[ScoredConcept] = []
    for concept in concepts:
        threshold = config.thresholds.get(concept.id)
        if threshold is not None and passes(concept.value, config.comparator, threshold):
            kept.append(concept)
    return kept
