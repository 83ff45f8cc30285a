"""Concepts: list, get, create, rename (Clarifai has no DeleteConcepts: concepts cannot be
deleted from an app).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from api import wire
from api.client.core import BATCH_SIZE, DEFAULT_PER_PAGE, ClientCore, PatchAction
from api.models import Concept, Page


class ConceptCalls(ClientCore):
    """The calls on an app's concepts."""

    async def list_concepts(
        self, *, page: int = 1, per_page: int = DEFAULT_PER_PAGE
    ) -> Page[Concept]:
        return await self._list(
            self._app_path("concepts"),
            "concepts",
            wire.concept_from,
            page=page,
            per_page=per_page,
        )

    def iter_concepts(self, *, per_page: int = DEFAULT_PER_PAGE) -> AsyncIterator[Concept]:
        return self._iterate(lambda p, n: self.list_concepts(page=p, per_page=n), per_page)

    async def get_concept(self, concept_id: str) -> Concept:
        body = await self._call("GET", self._app_path("concepts", concept_id))
        return wire.concept_from(wire.single(body, "concept"))

    async def create_concepts(self, concepts: Sequence[Concept]) -> list[Concept]:
        out: list[Concept] = []
        for start in range(0, len(concepts), BATCH_SIZE):
            body = await self._call(
                "POST",
                self._app_path("concepts"),
                json=wire.concepts_body(concepts[start : start + BATCH_SIZE]),
            )
            out.extend(wire.concept_from(c) for c in wire.items(body, "concepts"))
        return out

    async def patch_concepts(
        self, concepts: Sequence[Concept], *, action: PatchAction = "overwrite"
    ) -> list[Concept]:
        """Rename concepts: `patch_concepts([Concept("cat", name="Cat")])`."""
        out: list[Concept] = []
        for start in range(0, len(concepts), BATCH_SIZE):
            body = await self._call(
                "PATCH",
                self._app_path("concepts"),
                json=wire.patch_concepts_body(concepts[start : start + BATCH_SIZE], action),
            )
            out.extend(wire.concept_from(c) for c in wire.items(body, "concepts"))
        return out
