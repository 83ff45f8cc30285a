"""PostInputsSearches and PostAnnotationsSearches with filters: the query model and its SQL.

What the platform documents, and what is copied here (Clarifai docs "Filter" and "Combine or
Negate"; protos ``Search.query.filters[]``, ``Filter{negate, annotation, input}``):

- The filters of one query are ANDed. ``negate`` turns one filter into its opposite.
- One annotation filter matches an annotation that satisfies all of its fields at once:
  ``status.code``, ``user_id``, ``model_version_id``, ``input_id`` and ``data.concepts``; the
  concepts listed in one filter are ORed (the SDK's "OR search" puts several in one filter).
  A concept with ``value`` 1 matches positive labels of it, ``value`` 0 negative ones.
- PostInputsSearches answers inputs: an input is a hit when, for each annotation filter, one of
  its annotations matches (none does, when negated), and it satisfies every input filter
  (``status.code``, ``id``).
- PostAnnotationsSearches answers annotations: each hit is one annotation that matches every
  annotation filter, on an input that satisfies every input filter.
- An annotation filter without a status matches ANNOTATION_SUCCESS annotations only: search is
  over trusted labels (PENDING ones wait for review; ask for them with their status). This is
  our reading of the platform, written down in ``shared/clarifai-api.md``.

Hits come newest first (input or annotation creation order, the order of List calls), so a
page is stable while nothing is added. Every query starts from an index: inputs by app, or
annotations by app and status; the first positive annotation filter of an input search is an
``IN`` over annotations, so a rare status does not walk the whole app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: ANNOTATION_SUCCESS: what an annotation filter without a status matches.
_TRUSTED = 24150


@dataclass(frozen=True, slots=True)
class AnnotationMatch:
    """One annotation filter. Empty lists match anything."""

    status_codes: tuple[int, ...] = ()
    user_ids: tuple[str, ...] = ()
    model_version_ids: tuple[str, ...] = ()
    input_ids: tuple[str, ...] = ()
    #: ``(concept id, positive)``; ORed.
    concepts: tuple[tuple[str, bool], ...] = ()
    negate: bool = False


@dataclass(frozen=True, slots=True)
class InputMatch:
    status_codes: tuple[int, ...] = ()
    ids: tuple[str, ...] = ()
    negate: bool = False


@dataclass(frozen=True, slots=True)
class SearchQuery:
    annotations: tuple[AnnotationMatch, ...] = ()
    inputs: tuple[InputMatch, ...] = field(default_factory=tuple)


def _marks(count: int) -> str:
    return ",".join("?" * count)


def _annotation_sql(match: AnnotationMatch, alias: str) -> tuple[str, list[Any]]:
    """The predicate (not negated) of one annotation filter on annotation ``alias``."""
    parts: list[str] = []
    params: list[Any] = []
    codes = match.status_codes or (_TRUSTED,)
    parts.append(f"{alias}.status_code IN ({_marks(len(codes))})")
    params.extend(codes)
    if match.user_ids:
        parts.append(f"{alias}.user_id IN ({_marks(len(match.user_ids))})")
        params.extend(match.user_ids)
    if match.model_version_ids:
        parts.append(f"{alias}.model_version_id IN ({_marks(len(match.model_version_ids))})")
        params.extend(match.model_version_ids)
    if match.input_ids:
        parts.append(
            f"{alias}.input_pk IN (SELECT pk FROM inputs WHERE app_pk = {alias}.app_pk "
            f"AND id IN ({_marks(len(match.input_ids))}))"
        )
        params.extend(match.input_ids)
    if match.concepts:
        ors = []
        for concept_id, positive in match.concepts:
            ors.append(f"(ac.concept_id = ? AND ac.value {'>' if positive else '<='} 0)")
            params.append(concept_id)
        parts.append(
            "EXISTS (SELECT 1 FROM annotation_concepts ac "
            f"WHERE ac.annotation_pk = {alias}.pk AND ({' OR '.join(ors)}))"
        )
    return " AND ".join(parts), params


def _input_sql(match: InputMatch, alias: str) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    if match.status_codes:
        parts.append(f"{alias}.status_code IN ({_marks(len(match.status_codes))})")
        params.extend(match.status_codes)
    if match.ids:
        parts.append(f"{alias}.id IN ({_marks(len(match.ids))})")
        params.extend(match.ids)
    sql = " AND ".join(parts) or "1"
    return (f"NOT ({sql})" if match.negate else sql), params


#: A first positive annotation filter matching at least this many annotations is "common":
#: the page is found walking the inputs newest first with EXISTS (a few probes per hit)
#: instead of gathering every matching annotation first (a million at 1,000,000 inputs:
#: 1 s a page); a rarer one still drives the query from the annotation index.
COMMON_MATCHES = 2_000


def selectivity_probe(app_pk: int, query: SearchQuery) -> tuple[str, list[Any]] | None:
    """SQL counting (up to COMMON_MATCHES) the annotations the first positive filter
    matches, or None when the query has no such filter."""
    for match in query.annotations:
        if not match.negate:
            predicate, more = _annotation_sql(match, "a")
            sql = (
                f"SELECT COUNT(*) FROM (SELECT 1 FROM annotations a WHERE a.app_pk = ? AND "
                f"{predicate} LIMIT {COMMON_MATCHES})"
            )
            return sql, [app_pk, *more]
    return None


def inputs_sql(
    app_pk: int, query: SearchQuery, limit: int, offset: int, *, common: bool = False
) -> tuple[str, list[Any]]:
    """SQL selecting the pks of the input hits of one page, newest first. `common`: the
    first positive filter matches many annotations (see COMMON_MATCHES)."""
    where = ["i.app_pk = ?"]
    params: list[Any] = [app_pk]
    driven = common
    for match in query.annotations:
        predicate, more = _annotation_sql(match, "a")
        if not match.negate and not driven:
            # The first positive filter drives the query from the annotation index.
            where.append(
                f"i.pk IN (SELECT a.input_pk FROM annotations a WHERE a.app_pk = ? AND {predicate})"
            )
            params.extend([app_pk, *more])
            driven = True
            continue
        exists = f"EXISTS (SELECT 1 FROM annotations a WHERE a.input_pk = i.pk AND {predicate})"
        where.append(f"NOT {exists}" if match.negate else exists)
        params.extend(more)
    for input_match in query.inputs:
        predicate, more = _input_sql(input_match, "i")
        where.append(predicate)
        params.extend(more)
    sql = (
        f"SELECT i.pk FROM inputs i WHERE {' AND '.join(where)} ORDER BY i.pk DESC LIMIT ? OFFSET ?"
    )
    return sql, [*params, limit, offset]


def annotations_sql(
    app_pk: int, query: SearchQuery, limit: int, offset: int
) -> tuple[str, list[Any]]:
    """SQL selecting the pks of the annotation hits of one page, newest first."""
    where = ["a.app_pk = ?"]
    params: list[Any] = [app_pk]
    matches = query.annotations or (AnnotationMatch(),)
    if all(m.negate for m in matches):
        # Only negated filters: still search trusted annotations, as a bare filter would.
        matches = (*matches, AnnotationMatch())
    for match in matches:
        predicate, more = _annotation_sql(match, "a")
        where.append(f"NOT ({predicate})" if match.negate else f"({predicate})")
        params.extend(more)
    join = ""
    if query.inputs:
        join = " JOIN inputs i ON i.pk = a.input_pk"
        for input_match in query.inputs:
            predicate, more = _input_sql(input_match, "i")
            where.append(predicate)
            params.extend(more)
    sql = (
        f"SELECT a.pk FROM annotations a{join} WHERE {' AND '.join(where)} "
        "ORDER BY a.pk DESC LIMIT ? OFFSET ?"
    )
    return sql, [*params, limit, offset]
