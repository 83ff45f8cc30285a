"""Request-body pieces shared by the route modules."""

from __future__ import annotations

from api.local.http import text_field, valid_id
from api.local.jsonio import Obj
from api.local.rows import ConceptValue
from api.local.status import invalid


def concepts(owner: Obj, key: str = "concepts") -> list[ConceptValue]:
    """``[{id, name?, value?}]``; value defaults to 1 (positive), 0 means negative."""
    out: list[ConceptValue] = []
    for item in owner.get_objs(key):
        ident = item.get_str("id")
        if not ident:
            raise invalid(item.field("id"), "required (the concept id)")
        valid_id(ident, item.field("id"))
        value = item.get_float("value", 1.0)
        out.append(ConceptValue(ident, text_field(item, "name"), value))
    ids = [c.id for c in out]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise invalid(owner.field(key), f"concept ids repeated: {', '.join(dupes)}")
    return out


def only_fields(obj: Obj, allowed: set[str], what: str) -> None:
    """Refuse fields the embedded backend does not support instead of silently dropping them."""
    extra = sorted(k for k, v in obj.data.items() if k not in allowed and v not in (None, {}, []))
    if extra:
        raise invalid(
            obj.field(extra[0]),
            f"not supported by the embedded backend "
            f"({what} supports: {', '.join(sorted(allowed))})",
        )
