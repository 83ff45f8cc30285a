"""The model types of the embedded backend, as served by ListModelTypes.

Public API
----------
- ``Kind``: what flows along a workflow edge: ``image`` (the workflow input) ->
  ``embeddings`` -> ``concepts`` -> ``annotation``.
- ``ModelTypeInfo``: one model type: ``id``, ``title``, ``description``, ``input_kind``,
  ``output_kind``, ``trainable``, ``fields`` (``ModelTypeField`` dicts);
  ``to_dict()`` gives the JSON of a ``clarifai.api.ModelType`` (it parses with
  ``json_format.ParseDict`` into ``resources_pb2.ModelType``).
- ``MODEL_TYPES``: id -> ModelTypeInfo, in the order ListModelTypes shows them.
- ``normalise_type_id(type_id)``: accepts aliases (``concept-threshold`` ->
  ``concept-thresholder``); raises ``UnknownModelType`` (a ``ValueError``) otherwise.
- ``get_model_type(type_id)`` and ``list_model_types()`` (the dicts for the response).
- ``DEFAULT_EMBEDDER``: the name of the default embedder (``nodes.embedder`` has the
  embedders; the name lives here so that naming it does not import numpy).

Wire ``input_fields``/``output_fields`` name ``Data`` fields: the writer lists
``concepts`` as its output because PostWorkflowResults shows the concepts it would write
(the annotation itself is a side effect, written by the caller).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

#: The default embedder's registry name (see api.local.nodes.embedder).
DEFAULT_EMBEDDER: Final = "handcrafted-v1"


class Kind(StrEnum):
    """What a node consumes or produces."""

    IMAGE = "image"
    EMBEDDINGS = "embeddings"
    CONCEPTS = "concepts"
    ANNOTATION = "annotation"


VISUAL_EMBEDDER: Final = "visual-embedder"
EMBEDDING_CLASSIFIER: Final = "embedding-classifier"
CONCEPT_THRESHOLDER: Final = "concept-thresholder"
ANNOTATION_WRITER: Final = "annotation-writer"

ALIASES: Final[dict[str, str]] = {"concept-threshold": CONCEPT_THRESHOLDER}

_WIRE_FIELDS: Final[dict[Kind, str]] = {
    Kind.IMAGE: "image",
    Kind.EMBEDDINGS: "embeddings",
    Kind.CONCEPTS: "concepts",
    Kind.ANNOTATION: "concepts",
}


class UnknownModelType(ValueError):
    """A model type id that this backend does not serve."""

    def __init__(self, type_id: str) -> None:
        known = ", ".join(MODEL_TYPES)
        super().__init__(f"unknown model type {type_id!r}: this server offers {known}")
        self.type_id = type_id


@dataclass(frozen=True)
class ModelTypeInfo:
    """One model type and its configurable fields."""

    id: str
    title: str
    description: str
    input_kind: Kind
    output_kind: Kind
    trainable: bool
    fields: tuple[dict[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The ``clarifai.api.ModelType`` JSON for ListModelTypes."""
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "input_fields": [_WIRE_FIELDS[self.input_kind]],
            "output_fields": [_WIRE_FIELDS[self.output_kind]],
            "trainable": self.trainable,
            "creatable": True,
            "model_type_fields": [dict(f) for f in self.fields],
        }


def _enum_option(option_id: str, number: int, description: str) -> dict[str, Any]:
    return {"id": option_id, "aliases": [{"id_int": number}], "description": description}


_CONCEPTS_FIELD: Final[dict[str, Any]] = {
    "path": "output_info.data.concepts",
    "field_type": "ARRAY_OF_CONCEPTS",
    "description": "The concepts this model learns and predicts.",
    "required": True,
}

_THRESHOLD_CONCEPTS_FIELD: Final[dict[str, Any]] = {
    "path": "output_info.data.concepts",
    "field_type": "ARRAY_OF_CONCEPTS_WITH_THRESHOLD",
    "description": (
        "One threshold per concept in `value`; incoming concepts without a threshold are dropped."
    ),
    "required": True,
}

_COMPARATOR_FIELD: Final[dict[str, Any]] = {
    "path": "output_info.params.concept_threshold_type",
    "field_type": "ENUM",
    "default_value": "GREATER_THAN",
    "description": (
        "How a concept's value is compared with its threshold (name or number). "
        "CONCEPT_THRESHOLD_NOT_SET behaves as GREATER_THAN_OR_EQUAL."
    ),
    "model_type_enum_options": [
        _enum_option("CONCEPT_THRESHOLD_NOT_SET", 0, "not set: value >= threshold"),
        _enum_option("GREATER_THAN", 1, "value > threshold"),
        _enum_option("GREATER_THAN_OR_EQUAL", 2, "value >= threshold"),
        _enum_option("LESS_THAN", 3, "value < threshold"),
        _enum_option("LESS_THAN_OR_EQUAL", 4, "value <= threshold"),
        _enum_option("EQUAL", 5, "value == threshold"),
    ],
    "required": True,
}

_WRITER_FIELDS: Final[tuple[dict[str, Any], ...]] = (
    {
        "path": "output_info.params.annotation_status",
        "field_type": "ENUM",
        "default_value": "ANNOTATION_SUCCESS",
        "description": "The status of the written annotations (name or number).",
        "model_type_enum_options": [
            _enum_option("ANNOTATION_SUCCESS", 24150, "an accepted annotation"),
            _enum_option("ANNOTATION_PENDING", 24151, "waits in the review queue"),
        ],
        "required": True,
    },
    {
        "path": "output_info.params.annotation_user_id",
        "field_type": "STRING",
        "description": "The user the annotations are written as (default: the app owner).",
        "placeholder": "user id",
    },
    {
        "path": "output_info.params.annotation_info",
        "field_type": "JSON",
        "description": "Optional JSON object stored with each written annotation.",
    },
)

MODEL_TYPES: Final[dict[str, ModelTypeInfo]] = {
    t.id: t
    for t in (
        ModelTypeInfo(
            id=VISUAL_EMBEDDER,
            title="Visual Embedder",
            description="Turns an image into an embedding vector (offline, deterministic).",
            input_kind=Kind.IMAGE,
            output_kind=Kind.EMBEDDINGS,
            trainable=False,
        ),
        ModelTypeInfo(
            id=EMBEDDING_CLASSIFIER,
            title="Context-Based Classifier",
            description=(
                "A linear classifier over embeddings, trained on the app's inputs labelled "
                "with its concepts; predicts a value in [0, 1] for each concept."
            ),
            input_kind=Kind.EMBEDDINGS,
            output_kind=Kind.CONCEPTS,
            trainable=True,
            fields=(_CONCEPTS_FIELD,),
        ),
        ModelTypeInfo(
            id=CONCEPT_THRESHOLDER,
            title="Concept Thresholder",
            description=(
                "Keeps the incoming concepts whose value satisfies the comparison with that "
                "concept's threshold."
            ),
            input_kind=Kind.CONCEPTS,
            output_kind=Kind.CONCEPTS,
            trainable=False,
            fields=(_THRESHOLD_CONCEPTS_FIELD, _COMPARATOR_FIELD),
        ),
        ModelTypeInfo(
            id=ANNOTATION_WRITER,
            title="Annotation Writer",
            description=(
                "Writes the incoming concepts as one annotation on the input, with the "
                "configured status and user; writes nothing for no concepts."
            ),
            input_kind=Kind.CONCEPTS,
            output_kind=Kind.ANNOTATION,
            trainable=False,
            fields=_WRITER_FIELDS,
        ),
    )
}


def normalise_type_id(type_id: str) -> str:
    """The canonical id for ``type_id`` (aliases resolved); UnknownModelType otherwise."""
    canonical = ALIASES.get(type_id, type_id)
    if canonical not in MODEL_TYPES:
        raise UnknownModelType(type_id)
    return canonical


def get_model_type(type_id: str) -> ModelTypeInfo:
    """The model type for ``type_id`` (aliases accepted)."""
    return MODEL_TYPES[normalise_type_id(type_id)]


def list_model_types() -> list[dict[str, Any]]:
    """The ``model_types`` list of a ListModelTypes response."""
    return [t.to_dict() for t in MODEL_TYPES.values()]
