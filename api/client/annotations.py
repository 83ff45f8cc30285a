"""Annotations: list, add in batches of 128 with per-item results, patch (review status),
delete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from api import wire
from api.client.core import BATCH_SIZE, DEFAULT_PER_PAGE, ClientCore, PatchAction
from api.errors import status_name
from api.models import Annotation, AnnotationResult, AnnotationUpdate, NewAnnotation, Page


class AnnotationCalls(ClientCore):
    """The calls on an app's annotations."""

    async def list_annotations(
        self,
        *,
        page: int = 1,
        per_page: int = DEFAULT_PER_PAGE,
        ids: Sequence[str] | None = None,
        input_ids: Sequence[str] | None = None,
        user_ids: Sequence[str] | None = None,
        model_version_ids: Sequence[str] | None = None,
        list_all_annotations: bool = False,
    ) -> Page[Annotation]:
        params = wire.list_annotations_params(
            page,
            per_page,
            ids=ids,
            input_ids=input_ids,
            user_ids=user_ids,
            model_version_ids=model_version_ids,
            list_all_annotations=list_all_annotations,
        )
        body = await self._call("GET", self._app_path("annotations"), params=params)
        return Page(
            [wire.annotation_from(a) for a in wire.items(body, "annotations")],
            page=page,
            per_page=per_page,
        )

    def iter_annotations(
        self,
        *,
        per_page: int = DEFAULT_PER_PAGE,
        ids: Sequence[str] | None = None,
        input_ids: Sequence[str] | None = None,
        user_ids: Sequence[str] | None = None,
        model_version_ids: Sequence[str] | None = None,
        list_all_annotations: bool = False,
    ) -> AsyncIterator[Annotation]:
        return self._iterate(
            lambda p, n: self.list_annotations(
                page=p,
                per_page=n,
                ids=ids,
                input_ids=input_ids,
                user_ids=user_ids,
                model_version_ids=model_version_ids,
                list_all_annotations=list_all_annotations,
            ),
            per_page,
        )

    async def post_annotations(
        self, annotations: Sequence[NewAnnotation]
    ) -> list[AnnotationResult]:
        """Add annotations in batches of 128; one result per annotation, in order."""
        out: list[AnnotationResult] = []
        for start in range(0, len(annotations), BATCH_SIZE):
            batch = annotations[start : start + BATCH_SIZE]
            body = await self._call(
                "POST",
                self._app_path("annotations"),
                json=wire.post_annotations_body(batch),
                idempotent=True,  # ids are chosen client-side
                batch_key="annotations",
            )
            code, description, details = wire.status_of(body)
            out.extend(
                wire.batch_results(
                    [a.id for a in batch],
                    wire.items(body, "annotations"),
                    code,
                    description,
                    details,
                    wire.annotation_from,
                    status_name,
                )
            )
        return out

    async def patch_annotations(
        self, updates: Sequence[AnnotationUpdate], *, action: PatchAction = "merge"
    ) -> list[Annotation]:
        """Change annotations' concepts and/or status (review: accept/reject)."""
        out: list[Annotation] = []
        for start in range(0, len(updates), BATCH_SIZE):
            body = await self._call(
                "PATCH",
                self._app_path("annotations"),
                json=wire.patch_annotations_body(updates[start : start + BATCH_SIZE], action),
            )
            out.extend(wire.annotation_from(a) for a in wire.items(body, "annotations"))
        return out

    async def set_annotation_status(
        self, annotations: Sequence[Annotation], status_code: int
    ) -> list[Annotation]:
        """Set the status of annotations (e.g. accept -> SUCCESS, reject -> REVIEW_DENIED)."""
        return await self.patch_annotations(
            [AnnotationUpdate(a.id, a.input_id, status_code=status_code) for a in annotations]
        )

    async def delete_annotation(self, input_id: str, annotation_id: str) -> None:
        await self._call("DELETE", self._app_path("inputs", input_id, "annotations", annotation_id))
