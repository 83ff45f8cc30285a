"""Storage for models, model versions, workflows and embeddings (schema version 2).

Same rules as :mod:`api.local.store`: synchronous methods, callable from any thread, writes
serialised through ``Store.write()``. Model versions whose status is 21103 (queued) or 21101
(training) are the durable training queue: :meth:`ModelStore.training_jobs` lists them.

One :class:`ModelStore` over one :class:`~api.local.store.Store`; its methods come in by
aggregate (issue #23), each a mixin over :class:`~api.local.modelstore.core.ModelStoreCore`:

- ``core``: the columns and row decoders, the failures for what is missing, how a workflow
  node names its model, and the lookups the others share;
- ``models``: models, and the models a workflow's nodes use;
- ``versions``: model versions and the training queue;
- ``training``: labelled inputs and embeddings for training, and the counts per concept;
- ``workflows``: workflows and an app's default workflow.
"""

from __future__ import annotations

from api.local.modelstore.core import (
    MODEL_DOES_NOT_EXIST,
    MODEL_QUEUED,
    MODEL_TRAINED,
    MODEL_TRAINING,
    MODEL_TRAINING_FAILED,
    MODEL_UNTRAINED,
    WORKFLOW_DOES_NOT_EXIST,
    ModelStoreCore,
    model_missing,
    node_key,
    node_model_ids,
    node_owner,
    version_missing,
    workflow_missing,
)
from api.local.modelstore.models import ModelRows
from api.local.modelstore.training import TrainingData
from api.local.modelstore.versions import VersionRows
from api.local.modelstore.workflows import WorkflowRows

__all__ = [
    "MODEL_DOES_NOT_EXIST",
    "MODEL_QUEUED",
    "MODEL_TRAINED",
    "MODEL_TRAINING",
    "MODEL_TRAINING_FAILED",
    "MODEL_UNTRAINED",
    "WORKFLOW_DOES_NOT_EXIST",
    "ModelStore",
    "ModelStoreCore",
    "model_missing",
    "node_key",
    "node_model_ids",
    "node_owner",
    "version_missing",
    "workflow_missing",
]


class ModelStore(WorkflowRows, TrainingData, VersionRows, ModelRows, ModelStoreCore):
    """Models, versions, workflows and embeddings on top of a :class:`Store`."""
