"""The Uploads area's saved queue: the batches added and not yet settled, per app.

A small JSON file beside the engine's journal for the same server, user and app, written
(atomically) before anything of a batch is sent, so a quit in the middle resumes it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.upload import UploadSource

if TYPE_CHECKING:
    from api.client import ClarifaiClient

QUEUE_VERSION = 1


@dataclass
class Batch:
    sources: list[UploadSource]
    concepts: tuple[str, ...] = ()


def queue_path(state_dir: Path, client: ClarifaiClient) -> Path:
    """Beside the engine's journal for the same server, user and app."""
    scope = f"{client.base_url}\n{client.user_id}\n{client.app_id}"
    digest = hashlib.sha256(scope.encode()).hexdigest()[:12]
    safe_app = "".join(c if c.isalnum() or c in "-_" else "_" for c in client.app_id or "")
    return state_dir / "uploads" / f"{safe_app}-{digest}.tui-queue.json"


def _source_json(source: UploadSource) -> dict[str, Any]:
    return {
        "kind": source.kind,
        "label": source.label,
        "path": str(source.path) if source.path else None,
        "url": source.url,
        "error": source.error,
    }


def _source_from(raw: dict[str, Any]) -> UploadSource:
    kind, label = str(raw.get("kind", "")), str(raw.get("label", ""))
    if kind == "file" and raw.get("path"):
        try:
            return UploadSource.for_file(Path(str(raw["path"])), label)
        except OSError as exc:
            return UploadSource(kind="error", label=label, error=exc.strerror or str(exc))
    if kind == "url" and raw.get("url"):
        return UploadSource.for_url(str(raw["url"]))
    return UploadSource(kind="error", label=label, error=str(raw.get("error") or "unreadable"))


def save_queue(path: Path, batches: Iterable[Batch]) -> None:
    """Atomically (temp file + rename); an empty queue removes the file."""
    items = [
        {"concepts": list(b.concepts), "sources": [_source_json(s) for s in b.sources]}
        for b in batches
    ]
    if not items:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        json.dump({"version": QUEUE_VERSION, "batches": items}, out)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)


def load_queue(path: Path) -> list[Batch]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    batches = []
    for item in raw.get("batches", []) if isinstance(raw, dict) else []:
        sources = [_source_from(s) for s in item.get("sources", []) if isinstance(s, dict)]
        if sources:
            batches.append(Batch(sources, tuple(str(c) for c in item.get("concepts", []))))
    return batches
