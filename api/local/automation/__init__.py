"""Models at work: training, prediction, workflow runs and the default workflow on ingest.

One :class:`Automation` per backend; its methods come in by job (issue #23), each a mixin over
:class:`~api.local.automation.core.AutomationCore`:

- ``core``: the state, the helpers the others share (the default embedder, node specs, the
  engine's resolver over the store), whether an app is indexed, the trained classifiers;
- ``training``: the **training queue**, and **restart while training**;
- ``checks``: a workflow's checks before it is stored, and PatchApps' for a default workflow;
- ``running``: **prediction and dry runs** (PostModelOutputs, PostWorkflowResults), which
  write nothing;
- ``pipeline``: the **ingest pipeline** (``IngestWorker.pipeline``), the app's default
  workflow on each new input.

Imports of numpy, scikit-learn and Pillow happen inside functions, so importing the backend
stays light.
"""

from __future__ import annotations

from api.local.automation.checks import WorkflowChecks
from api.local.automation.core import (
    AutomationCore,
    Source,
    StoreResolver,
    default_embedder,
    embedder_for,
    embedding_row,
    is_trainable,
    node_specs,
    vector_of,
)
from api.local.automation.pipeline import DefaultWorkflowPipeline
from api.local.automation.running import WorkflowRuns
from api.local.automation.training import INGEST_SETTLE, MAX_TRAINING_ATTEMPTS, TrainingQueue
from api.local.ingest import IngestWorker
from api.local.store import Store

__all__ = [
    "INGEST_SETTLE",
    "MAX_TRAINING_ATTEMPTS",
    "Automation",
    "AutomationCore",
    "Source",
    "StoreResolver",
    "default_embedder",
    "embedder_for",
    "embedding_row",
    "is_trainable",
    "node_specs",
    "vector_of",
]


class Automation(
    WorkflowChecks, WorkflowRuns, DefaultWorkflowPipeline, TrainingQueue, AutomationCore
):
    """Training, prediction and workflow runs for one backend (see the module docstring)."""

    def __init__(self, store: Store, ingest: IngestWorker, user_id: str) -> None:
        super().__init__(store, ingest, user_id)
        ingest.pipeline = self
