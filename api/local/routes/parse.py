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


def media_kind(data: Obj) -> str:
    """Which of ``data.image`` and ``data.video`` an input has ("image" when neither)."""
    has_image = data.raw("image") not in (None, {})
    has_video = data.raw("video") not in (None, {})
    if has_image and has_video:
        raise invalid(data.field("video"), "an input is an image or a video, not both")
    return "video" if has_video else "image"


def frame(data: Obj) -> tuple[tuple[int, int] | None, Obj]:
    """A frame-level annotation's ``data.frames`` (one frame: its index and time in ms, and
    that frame's data), or (None, ``data``) for an annotation of the whole input."""
    frames = data.get_objs("frames")
    if not frames:
        return None, data
    if len(frames) > 1:
        raise invalid(
            data.field("frames"),
            f"{len(frames)} frames in one annotation; the embedded backend keeps one frame an "
            "annotation: send one annotation per frame",
        )
    if data.raw("concepts") not in (None, []):
        raise invalid(
            data.field("concepts"),
            "a frame-level annotation keeps its concepts in data.frames[0].data.concepts",
        )
    info = frames[0].get_obj("frame_info")
    index, time_ms = info.get_int("index"), info.get_int("time")
    if index < 0 or time_ms < 0:
        raise invalid(info.field("time"), "frame index and time must not be negative")
    inner = frames[0].get_obj("data")
    only_fields(inner, {"concepts"}, "a frame's data")
    return (index, time_ms), inner
