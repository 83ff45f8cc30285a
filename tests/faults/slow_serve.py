"""``python -m tests.faults.slow_serve ...``: the real ``serve`` main, with work slowed down.

Each ingest job sleeps ``FAULTS_INGEST_DELAY`` seconds in its worker thread (a processor added to
every IngestWorker), and each classifier training sleeps ``FAULTS_TRAIN_DELAY`` seconds (default
0) before it fits, so a test can SIGKILL the server while work is certainly in progress. The
restart in the tests uses the unmodified ``python -m api.local.serve``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from api.local import ingest

_original_init = ingest.IngestWorker.__init__


def _slow_init(self: ingest.IngestWorker, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    delay = float(os.environ.get("FAULTS_INGEST_DELAY", "0.01"))

    def slow_down(ref: ingest.InputRef, image: object) -> None:
        time.sleep(delay)

    self.processors.append(slow_down)


ingest.IngestWorker.__init__ = _slow_init  # type: ignore[method-assign]


def _slow_training() -> None:
    delay = float(os.environ.get("FAULTS_TRAIN_DELAY", "0"))
    if delay <= 0:
        return
    from api.local.nodes import classifier

    original = classifier.train

    def slow_train(*args: Any, **kwargs: Any) -> Any:
        time.sleep(delay)
        return original(*args, **kwargs)

    classifier.train = slow_train  # type: ignore[assignment]


_slow_training()

if __name__ == "__main__":
    from api.local.serve import main

    raise SystemExit(main(sys.argv[1:]))
