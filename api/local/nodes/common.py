"""Small values shared by the node modules: scored concepts and configuration errors.

Public API
----------
- ``ScoredConcept(id, name, value)``: a concept with a value in [0, 1], as predicted by a
  classifier or kept by a thresholder (``data.concepts[]`` on the wire).
- ``ConfigError(field, message)``: a model's ``output_info`` is invalid; ``field`` is the
  dotted wire path (``output_info.params.annotation_status``) and ``str(err)`` is a
  sentence that names it. The HTTP layer maps it to a 21202 MODEL_INVALID_ARGUMENT.
- ``as_int_code(value, field)``: an enum value as sent on the wire (int, float such as
  ``3.0`` from protobuf Structs, or a string of digits) -> int, or ``None`` when it is not
  numeric (the caller then tries names).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ScoredConcept:
    """One concept and its value (a probability for predictions)."""

    id: str
    name: str
    value: float

    def to_dict(self) -> dict[str, object]:
        """The wire shape of ``data.concepts[]``."""
        return {"id": self.id, "name": self.name, "value": self.value}


class ConfigError(ValueError):
    """A model's configuration (``output_info``) is invalid."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def as_int_code(value: object, field: str) -> int | None:
    """``3``, ``3.0`` and ``"3"`` -> 3; a name -> None; other values raise ConfigError."""
    if isinstance(value, bool):
        raise ConfigError(field, f"expected a number or a name, got the boolean {value}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ConfigError(field, f"expected a whole number or a name, got {value!r}")
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdecimal() and len(text) <= 4000:
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return None
        return as_int_code(number, field)
    raise ConfigError(field, f"expected a number or a name, got {type(value).__name__}")
