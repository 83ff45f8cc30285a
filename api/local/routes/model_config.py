"""What a model's configuration may be, for the model routes: the model type named in a
request, the ``output_info`` sent (``data.concepts``, ``params``, ``output_config``) parsed
and normalised, and the check per type that refuses what it cannot run with (21202
MODEL_INVALID_ARGUMENT, naming the field). Split from :mod:`api.local.routes.models` (issue
#23): a new model type's configuration check goes in :func:`check_config`.
"""

from __future__ import annotations

from typing import Any, Final

from api.local.automation import embedder_for
from api.local.http import text_field, valid_id
from api.local.jsonio import Obj
from api.local.nodes.common import ConfigError
from api.local.nodes.types import (
    ANNOTATION_WRITER,
    CONCEPT_THRESHOLDER,
    VISUAL_EMBEDDER,
    UnknownModelType,
    list_model_types,
    normalise_type_id,
)
from api.local.routes import parse
from api.local.rows import ConceptValue, ModelRow
from api.local.status import ApiFailure, invalid

MODEL_INVALID_ARGUMENT: Final = 21202
MODEL_TYPE_DOES_NOT_EXIST: Final = 21200
_OUTPUT_INFO_FIELDS: Final = {"data", "params", "output_config", "message"}


def parse_type_id(value: str, field: str) -> str:
    if not value:
        raise invalid(field, "required: one of " + ", ".join(t["id"] for t in list_model_types()))
    try:
        return normalise_type_id(value)
    except UnknownModelType as exc:
        raise ApiFailure(MODEL_INVALID_ARGUMENT, f"{field}: {exc}") from None


def _concepts(data: Obj) -> list[dict[str, Any]]:
    """``output_info.data.concepts``: ``{id, name, value}``; a missing value is 0 (proto3 JSON
    omits zeros, so a threshold of 0 arrives without ``value``)."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in data.get_objs("concepts"):
        ident = item.get_str("id") or item.get_str("name")
        if not ident:
            raise invalid(item.field("id"), "required (the concept id)")
        valid_id(ident, item.field("id"))
        if ident in seen:
            raise invalid(data.field("concepts"), f"concept '{ident}' appears twice")
        seen.add(ident)
        out.append(
            {
                "id": ident,
                "name": text_field(item, "name") or ident,
                "value": item.get_float("value"),
            }
        )
    return out


def parse_output_info(obj: Obj) -> dict[str, Any]:
    """The parts of ``output_info`` present in the request, normalised."""
    parse.only_fields(obj, _OUTPUT_INFO_FIELDS, "output_info")
    info: dict[str, Any] = {}
    if obj.has("data"):
        data = obj.get_obj("data")
        parse.only_fields(data, {"concepts"}, "output_info.data")
        info["data"] = {"concepts": _concepts(data)}
    if obj.has("params"):
        params = obj.get_struct("params")
        info["params"] = dict(params or {})
    if obj.has("output_config"):
        config = obj.get_obj("output_config")
        if config.has("concepts_mutually_exclusive"):
            info["output_config"] = {
                "concepts_mutually_exclusive": config.get_bool("concepts_mutually_exclusive")
            }
    return info


def check_config(type_id: str, info: dict[str, Any], user_id: str) -> None:
    """Refuse an ``output_info`` its type cannot run with (21202, naming the field)."""
    from api.local.nodes.thresholder import parse_thresholder
    from api.local.nodes.writer import parse_writer

    try:
        if type_id == CONCEPT_THRESHOLDER:
            config = parse_thresholder(info)
            if not config.thresholds:
                raise ConfigError(
                    "output_info.data.concepts",
                    "a thresholder needs at least one concept with its threshold in value",
                )
        elif type_id == ANNOTATION_WRITER:
            parse_writer(info, user_id)
        elif type_id == VISUAL_EMBEDDER:
            embedder_for(_probe(info))
    except ConfigError as exc:
        raise ApiFailure(MODEL_INVALID_ARGUMENT, str(exc)) from None


def _probe(info: dict[str, Any]) -> ModelRow:
    return ModelRow(0, 0, "", "", "", VISUAL_EMBEDDER, info, 0.0, 0.0)


def concept_values(info: dict[str, Any]) -> list[ConceptValue]:
    return [
        ConceptValue(c["id"], c.get("name", c["id"]))
        for c in (info.get("data") or {}).get("concepts", [])
    ]
