"""The embedded backend's storage: SQLite (WAL) plus content-addressed blobs.

One :class:`Store` over one set of connections and one write lock. Its methods come in by
aggregate, each a mixin over :class:`~api.local.store.core.StoreCore`:

- ``core``: connections per thread, the write lock, ``write()``/``read()`` transactions,
  checkpoints, open/close and the migrations (durability and threads are explained there);
- ``blobs``: content-addressed blobs (put, stage, read, sweep, sync);
- ``apps``: apps and concepts;
- ``inputs``: inputs and their input-level labels;
- ``jobs``: the ingest queue and the default workflow's results;
- ``annotations``: annotations and searches.

The helpers they share (ids, JSON columns, ``IN (...)`` lists, merge rules) are in
:mod:`api.local.sql`. Models, versions and workflows are in :mod:`api.local.modelstore`.
"""

from __future__ import annotations

from api.local.sql import (
    _chunks,
    _dump,
    _json_or_none,
    _marks,
    _sha,
    merge_concepts,
    merge_struct,
    new_id,
    remove_struct,
)
from api.local.store.annotations import AnnotationStore
from api.local.store.apps import AppStore
from api.local.store.blobs import INLINE_BLOB_MAX, BlobStore
from api.local.store.core import WAL_RESTART_BYTES, StoreCore
from api.local.store.inputs import InputStore
from api.local.store.jobs import JobQueue

__all__ = [
    "INLINE_BLOB_MAX",
    "WAL_RESTART_BYTES",
    "Store",
    "_chunks",
    "_dump",
    "_json_or_none",
    "_marks",
    "_sha",
    "merge_concepts",
    "merge_struct",
    "new_id",
    "remove_struct",
]


class Store(AnnotationStore, JobQueue, InputStore, BlobStore, AppStore, StoreCore):
    """The embedded backend's database and blob directory (see :mod:`api.local.store.core`)."""
