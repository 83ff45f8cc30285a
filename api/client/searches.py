"""Searches: PostInputsSearches and PostAnnotationsSearches, by page or as iterators."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from api import wire
from api.client.core import DEFAULT_PER_PAGE, ClientCore
from api.models import Page, SearchFilter, SearchHit


class SearchCalls(ClientCore):
    """The searches of an app's inputs and annotations."""

    async def search_inputs(
        self,
        filters: Sequence[SearchFilter],
        *,
        page: int = 1,
        per_page: int = DEFAULT_PER_PAGE,
    ) -> Page[SearchHit]:
        """One page of PostInputsSearches: the inputs that satisfy every filter, newest first."""
        return await self._search("inputs", filters, page, per_page)

    async def search_annotations(
        self,
        filters: Sequence[SearchFilter],
        *,
        page: int = 1,
        per_page: int = DEFAULT_PER_PAGE,
    ) -> Page[SearchHit]:
        """One page of PostAnnotationsSearches: annotations (each with its input) matching
        every filter, newest first."""
        return await self._search("annotations", filters, page, per_page)

    def iter_search_inputs(
        self, filters: Sequence[SearchFilter], *, per_page: int = DEFAULT_PER_PAGE
    ) -> AsyncIterator[SearchHit]:
        return self._iterate(lambda p, n: self.search_inputs(filters, page=p, per_page=n), per_page)

    def iter_search_annotations(
        self, filters: Sequence[SearchFilter], *, per_page: int = DEFAULT_PER_PAGE
    ) -> AsyncIterator[SearchHit]:
        return self._iterate(
            lambda p, n: self.search_annotations(filters, page=p, per_page=n), per_page
        )

    async def _search(
        self, what: str, filters: Sequence[SearchFilter], page: int, per_page: int
    ) -> Page[SearchHit]:
        body = await self._call(
            "POST",
            self._app_path(what, "searches"),
            json=wire.search_body(filters, page, per_page),
            idempotent=True,  # a search writes nothing
        )
        hits = [wire.search_hit_from(hit) for hit in wire.items(body, "hits")]
        return Page(hits, page=page, per_page=per_page)
