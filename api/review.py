"""The review queue: PENDING annotations, claimed with a short lease, accepted or rejected.

No Textual here: the Review screen drives a :class:`ReviewQueue`.

Leases. Clarifai has no lease call, so a claim is a record in the annotation itself::

    annotation_info.review = {
        "lease":   {"owner": "<reviewer id>", "expires_at": <epoch seconds>},
        "history": [{"action": "accepted" | "rejected" | "undone", "by": "<reviewer id>",
                     "at": "<RFC 3339>", "from": <status>, "to": <status>,
                     "removed_concepts": ["..."]}, ...],
    }

- On the embedded server (``clarifai-tui serve`` or in-process) the claim is atomic: one
  ``POST .../annotations/review/claims`` call (``api/local/routes/review.py``) picks and leases
  the next free PENDING annotation in one SQLite write transaction, so two reviewers on one
  server never get the same annotation.
- Elsewhere (a real Clarifai app: that path answers 404) the claim is best effort: read the
  annotation, skip it if another reviewer's lease has not expired, write our lease with
  PatchAnnotations (merge), read it back and keep it only if our lease is the one stored. Two
  reviewers racing inside the same few hundred milliseconds can still both win there.
- A lease lasts ``ttl`` seconds (120 by default); the screen renews it while the annotation
  is shown, and a crashed reviewer's claims simply expire.
- A decision (accept -> SUCCESS, reject -> REVIEW_DENIED) is one PatchAnnotations call that
  sets the status, the kept concepts, appends to ``history`` and clears the lease; it is
  written before the next annotation is shown. A video's frame annotation (issue #27) is
  reviewed the same way; its concepts are sent inside its frame (``AnnotationUpdate.frame``).
  Undo writes the annotation back to PENDING with its original concepts (another
  PatchAnnotations) and claims it again.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from api import wire
from api.client import ClarifaiClient
from api.errors import ApiError
from api.models import (
    Annotation,
    AnnotationFilter,
    AnnotationStatus,
    AnnotationUpdate,
    Concept,
    SearchFilter,
)

#: The review queue: PENDING annotations, found with PostAnnotationsSearches (ListAnnotations
#: cannot filter by status through the REST gateway).
PENDING_FILTER: tuple[SearchFilter, ...] = (AnnotationFilter(status=AnnotationStatus.PENDING),)

__all__ = [
    "CLAIM_PATH",
    "Decision",
    "Lease",
    "QueueCounts",
    "ReviewQueue",
    "history_of",
    "lease_of",
    "reviewer_id",
]

CLAIM_PATH: Final = ("annotations", "review", "claims")
DEFAULT_TTL: Final = 120.0
#: How many PENDING annotations the best-effort protocol reads per listing call.
SCAN_PER_PAGE: Final = 64
#: The best-effort counter stops counting here (shown as "500+").
COUNT_CAP: Final = 500


def reviewer_id() -> str:
    """Who is reviewing: user, host, process and a random suffix (one per queue)."""
    try:
        user = getpass.getuser()
    except Exception:
        user = "reviewer"
    return f"{user}@{socket.gethostname()}/{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _abandoned(owner: str, me: str) -> bool:
    """Whether `owner` is an earlier reviewer of this same person on this machine whose
    process has ended (a quit or a crash of the TUI left its lease behind)."""
    person, _, rest = owner.partition("/")
    if not rest or person != me.partition("/")[0]:
        return False
    pid_text = rest.partition("-")[0]
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError) as exc:
        return isinstance(exc, OverflowError)  # no such pid can exist
    return False


@dataclass(frozen=True)
class Lease:
    owner: str
    expires_at: float

    def held_by_other(self, reviewer: str, now: float) -> bool:
        return self.owner != reviewer and self.expires_at > now


def _review_info(annotation: Annotation) -> dict[str, Any]:
    review = annotation.annotation_info.get("review")
    return dict(review) if isinstance(review, Mapping) else {}


def lease_of(annotation: Annotation) -> Lease | None:
    lease = _review_info(annotation).get("lease")
    if not isinstance(lease, Mapping) or not lease.get("owner"):
        return None
    try:
        expires = float(lease.get("expires_at") or 0)
    except (TypeError, ValueError):
        expires = 0.0
    return Lease(str(lease["owner"]), expires)


def history_of(annotation: Annotation) -> list[dict[str, Any]]:
    """The review history stored on an annotation, oldest first."""
    history = _review_info(annotation).get("history")
    if not isinstance(history, list):
        return []
    return [dict(h) for h in history if isinstance(h, Mapping)]


def _now_text(clock: Callable[[], float]) -> str:
    return datetime.fromtimestamp(clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Decision:
    """One review decision, kept for undo."""

    before: Annotation  # as it was when claimed (PENDING)
    after: Annotation  # as written
    action: str  # "accepted" or "rejected"


@dataclass(frozen=True)
class QueueCounts:
    pending: int  # PENDING annotations in the app
    available: int  # of those, not held by another reviewer
    capped: bool = False  # best effort: counting stopped at COUNT_CAP

    def text(self, n: int) -> str:
        return f"{n}+" if self.capped and n >= COUNT_CAP else str(n)


@dataclass
class ReviewQueue:
    """One reviewer's queue over one app (the client must be bound to the app)."""

    client: ClarifaiClient
    reviewer: str = field(default_factory=reviewer_id)
    ttl: float = DEFAULT_TTL
    clock: Callable[[], float] = time.time
    current: Annotation | None = None
    skipped: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    counts: QueueCounts | None = None
    #: None until the first claim tells whether the server has the atomic claim call.
    atomic: bool | None = None
    reviewed: int = 0
    #: Leases left by this person's earlier, ended sessions are cleared before the first claim.
    reclaimed: int | None = None

    # -- the atomic protocol (embedded server) ------------------------------------------

    async def _claims(
        self,
        *,
        limit: int = 0,
        renew: Sequence[str] = (),
        release: Sequence[str] = (),
    ) -> list[Annotation] | None:
        """One claims call; None when the server does not have it."""
        if self.atomic is False:
            return None
        body = {
            "reviewer": self.reviewer,
            "ttl_seconds": self.ttl,
            "limit": limit,
            "exclude_ids": list(self.skipped),
            "renew_ids": list(renew),
            "release_ids": list(release),
        }
        try:
            answer = await self.client._call(
                "POST", self.client._app_path(*CLAIM_PATH), json=body, idempotent=False
            )
        except ApiError as exc:
            if self.atomic is None and (
                exc.http_status in (404, 405) or exc.code in (11101, 11100)
            ):
                self.atomic = False
                return None
            raise
        self.atomic = True
        counts = answer.get("counts")
        if isinstance(counts, Mapping):
            self.counts = QueueCounts(
                int(counts.get("pending", 0) or 0), int(counts.get("available", 0) or 0)
            )
        return [wire.annotation_from(a) for a in wire.items(answer, "annotations")]

    # -- the best-effort protocol (any Clarifai-compatible server) -----------------------

    async def _write_lease(self, annotation: Annotation, expires_at: float) -> Annotation | None:
        """Write our lease and read it back; the annotation if we hold it, else None."""
        lease = {"owner": self.reviewer, "expires_at": expires_at}
        await self.client.patch_annotations(
            [
                AnnotationUpdate(
                    annotation.id, annotation.input_id, annotation_info={"review": {"lease": lease}}
                )
            ],
            action="merge",
        )
        page = await self.client.list_annotations(
            ids=[annotation.id], input_ids=[annotation.input_id], list_all_annotations=True
        )
        back = next(iter(page), None)
        if back is None or back.status_code != AnnotationStatus.PENDING:
            return None
        held = lease_of(back)
        return back if held is not None and held.owner == self.reviewer else None

    async def _claim_best_effort(self) -> Annotation | None:
        now = self.clock()
        page_no = 1
        pending = available = 0
        claimed: Annotation | None = None
        capped = False
        while True:
            found = await self.client.search_annotations(
                PENDING_FILTER, page=page_no, per_page=SCAN_PER_PAGE
            )
            page = [h.annotation for h in found if h.annotation is not None]
            for annotation in page:
                pending += 1
                lease = lease_of(annotation)
                if lease is not None and lease.held_by_other(self.reviewer, now):
                    continue
                available += 1
                if claimed is None and annotation.id not in self.skipped:
                    claimed = await self._write_lease(annotation, now + self.ttl)
            if not found.has_more:
                break
            if pending >= COUNT_CAP:
                capped = True
                if claimed is not None:
                    break
            page_no += 1
        self.counts = QueueCounts(pending, available, capped)
        return claimed

    # -- what the screen calls -----------------------------------------------------------

    async def reclaim_abandoned(self) -> int:
        """Clear the leases this person's ended sessions left on this machine (a restart
        would otherwise count them as "with other reviewers" until they expire). One search
        page per SCAN_PER_PAGE pending annotations, up to COUNT_CAP; returns how many."""
        cleared = 0
        page_no = 1
        seen = 0
        while seen < COUNT_CAP:
            found = await self.client.search_annotations(
                PENDING_FILTER, page=page_no, per_page=SCAN_PER_PAGE
            )
            stale = []
            for hit in found:
                annotation = hit.annotation
                if annotation is None:
                    continue
                seen += 1
                lease = lease_of(annotation)
                if lease is not None and _abandoned(lease.owner, self.reviewer):
                    stale.append(annotation)
            if stale:
                await self.client.patch_annotations(
                    [
                        AnnotationUpdate(
                            a.id,
                            a.input_id,
                            annotation_info={"review": {"lease": {"owner": "", "expires_at": 0}}},
                        )
                        for a in stale
                    ],
                    action="merge",
                )
                cleared += len(stale)
            if not found.has_more:
                break
            page_no += 1
        self.reclaimed = cleared
        return cleared

    async def next(self) -> Annotation | None:
        """Claim the next annotation to review (None when nothing is left)."""
        if self.reclaimed is None:
            await self.reclaim_abandoned()
        claimed = await self._claims(limit=1)
        if claimed is None:
            self.current = await self._claim_best_effort()
        else:
            self.current = claimed[0] if claimed else None
        return self.current

    async def renew(self) -> None:
        """Extend the lease on the current annotation (call well within `ttl`)."""
        current = self.current
        if current is None:
            return
        renewed = await self._claims(renew=[current.id])
        if renewed is None:
            await self._write_lease(current, self.clock() + self.ttl)

    async def refresh_counts(self) -> QueueCounts | None:
        if await self._claims() is None:
            await self._claim_counts_best_effort()
        return self.counts

    async def _claim_counts_best_effort(self) -> None:
        now = self.clock()
        pending = available = 0
        page_no = 1
        while True:
            found = await self.client.search_annotations(
                PENDING_FILTER, page=page_no, per_page=SCAN_PER_PAGE
            )
            page = [h.annotation for h in found if h.annotation is not None]
            for annotation in page:
                pending += 1
                lease = lease_of(annotation)
                if lease is None or not lease.held_by_other(self.reviewer, now):
                    available += 1
            if not found.has_more or pending >= COUNT_CAP:
                break
            page_no += 1
        self.counts = QueueCounts(pending, available, pending >= COUNT_CAP)

    def _history_entry(
        self, action: str, before: int, after: int, removed: Sequence[str] = ()
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "action": action,
            "by": self.reviewer,
            "at": _now_text(self.clock),
            "from": int(before),
            "to": int(after),
        }
        if removed:
            entry["removed_concepts"] = list(removed)
        return entry

    def _info_with(
        self, annotation: Annotation, entry: dict[str, Any], lease_until: float
    ) -> dict[str, Any]:
        info = dict(annotation.annotation_info)
        review = _review_info(annotation)
        review["history"] = [*history_of(annotation), entry]
        review["lease"] = {"owner": self.reviewer, "expires_at": lease_until}
        info["review"] = review
        return info

    async def decide(self, accept: bool, keep: Sequence[str] | None = None) -> Decision:
        """Accept (SUCCESS, keeping only the concept ids in `keep` if given) or reject
        (REVIEW_DENIED) the current annotation; written at once."""
        current = self.current
        if current is None:
            raise RuntimeError("nothing to review")
        status = AnnotationStatus.SUCCESS if accept else AnnotationStatus.REVIEW_DENIED
        concepts: tuple[Concept, ...] | None = None
        removed: list[str] = []
        if accept and keep is not None:
            concepts = tuple(c for c in current.concepts if c.id in keep)
            removed = [c.id for c in current.concepts if c.id not in keep]
        action = "accepted" if accept else "rejected"
        info = self._info_with(
            current, self._history_entry(action, current.status_code, status, removed), 0.0
        )
        written = await self.client.patch_annotations(
            [
                AnnotationUpdate(
                    current.id,
                    current.input_id,
                    concepts=concepts,
                    status_code=status,
                    annotation_info=info,
                    # a frame annotation's concepts stay in its frame (data.frames)
                    frame=current.frame,
                )
            ],
            action="overwrite",
        )
        after = written[0] if written else current
        decision = Decision(current, after, action)
        self.decisions.append(decision)
        self.reviewed += 1
        self.current = None
        return decision

    async def skip(self) -> None:
        """Leave the current annotation for others (and for later); release its lease."""
        current = self.current
        if current is None:
            return
        self.skipped.append(current.id)
        self.current = None
        if await self._claims(release=[current.id]) is None:
            await self._release_best_effort(current)

    async def _release_best_effort(self, annotation: Annotation) -> None:
        await self.client.patch_annotations(
            [
                AnnotationUpdate(
                    annotation.id,
                    annotation.input_id,
                    annotation_info={"review": {"lease": {"owner": "", "expires_at": 0}}},
                )
            ],
            action="merge",
        )

    async def release(self) -> None:
        """Give back the current annotation (leaving the area, or quitting)."""
        current = self.current
        if current is None:
            return
        self.current = None
        if await self._claims(release=[current.id]) is None:
            await self._release_best_effort(current)

    async def undo(self) -> Annotation | None:
        """Put the last decision back: PENDING again, original concepts, and claim it."""
        if not self.decisions:
            return None
        decision = self.decisions.pop()
        if self.current is not None and self.current.id != decision.before.id:
            await self.release()
        before, after = decision.before, decision.after
        entry = self._history_entry("undone", after.status_code, before.status_code)
        info = self._info_with(after, entry, self.clock() + self.ttl)
        written = await self.client.patch_annotations(
            [
                AnnotationUpdate(
                    before.id,
                    before.input_id,
                    concepts=before.concepts,
                    status_code=before.status_code,
                    annotation_info=info,
                    frame=before.frame,
                )
            ],
            action="overwrite",
        )
        self.reviewed = max(0, self.reviewed - 1)
        restored = written[0] if written else before
        claimed = await self._claims(renew=[before.id])
        if claimed:
            restored = claimed[0]
        self.current = restored
        return restored
