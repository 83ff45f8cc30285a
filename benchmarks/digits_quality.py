"""Quality and speed of the embedded models on scikit-learn's digits (issue 6).

    .venv/bin/python benchmarks/digits_quality.py [--per-concept 50] [--seeds 3] [--size 64]

Each 8x8 digit is drawn dark-on-white, upsampled to SIZE x SIZE and saved as PNG; the
benchmark decodes those PNG bytes like uploads. For each seed, 50 images per concept
(concepts "0".."9") are the labelled training set and every other image is held out.

It prints, per seed:
  - held-out accuracy of the Context-Based Classifier (top concept);   target >= 0.93
  - the wizard's workflow run on every held-out image with the default thresholds
    (classify -> GREATER_THAN DEFAULT_HIGH -> write SUCCESS, and
     classify -> GREATER_THAN DEFAULT_LOW -> LESS_THAN_OR_EQUAL DEFAULT_HIGH -> PENDING):
    SUCCESS precision (annotations whose concept is right)              target >= 0.98
    SUCCESS coverage (held-out inputs that get a SUCCESS annotation)    target >= 0.60
    PENDING coverage and precision, and inputs left with no annotation;
and once: throughput per image of decode, embed, embed+predict and the whole workflow
(single core, one image at a time), and workflow / (embed+predict).
Exit status 0 when every seed meets the three targets.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.local.engine import NodeSpec, ResolvedClassifier, planned_annotations, run
from api.local.nodes.classifier import TrainedClassifier, train
from api.local.nodes.embedder import Embedder, get_embedder
from api.local.nodes.thresholder import (
    DEFAULT_HIGH,
    DEFAULT_LOW,
    ThresholderConfig,
    parse_thresholder,
)
from api.local.nodes.writer import WriterConfig, parse_writer
from benchmarks._results import record

CONCEPTS = [str(d) for d in range(10)]
TARGET_ACCURACY = 0.93
TARGET_PRECISION = 0.98
TARGET_COVERAGE = 0.60


def digit_pngs(size: int) -> tuple[list[bytes], np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    blobs = []
    for pixels in data.images:
        grey = (255 - pixels * (255 / 16)).astype(np.uint8)
        img = Image.fromarray(grey, "L").resize((size, size), Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        img.save(buf, "PNG")
        blobs.append(buf.getvalue())
    return blobs, np.asarray(data.target)


def decode(blob: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(blob))
    img.load()
    return img


def wizard_nodes() -> list[NodeSpec]:
    t, w = "concept-thresholder", "annotation-writer"
    return [
        NodeSpec("embed", "embedder", "", "visual-embedder"),
        NodeSpec("classify", "digits", "", "embedding-classifier", ["embed"]),
        NodeSpec("confident", "gt-high", "", t, ["classify"]),
        NodeSpec("write-success", "writer-success", "", w, ["confident"]),
        NodeSpec("unsure", "gt-low", "", t, ["classify"]),
        NodeSpec("not-confident", "le-high", "", t, ["unsure"]),
        NodeSpec("write-pending", "writer-pending", "", w, ["not-confident"]),
    ]


def _thresholds(value: float, comparator: str) -> dict[str, Any]:
    return {
        "data": {"concepts": [{"id": c, "value": value} for c in CONCEPTS]},
        "params": {"concept_threshold_type": comparator},
    }


@dataclass
class MemoryResolver:
    """The engine's Resolver over models held in memory (configs parsed once)."""

    embedder_impl: Embedder
    model: TrainedClassifier

    def __post_init__(self) -> None:
        self.thresholds = {
            "gt-high": parse_thresholder(_thresholds(DEFAULT_HIGH, "GREATER_THAN")),
            "gt-low": parse_thresholder(_thresholds(DEFAULT_LOW, "GREATER_THAN")),
            "le-high": parse_thresholder(_thresholds(DEFAULT_HIGH, "LESS_THAN_OR_EQUAL")),
        }
        self.writers = {
            "writer-success": parse_writer({"params": {"annotation_status": 24150}}, "me"),
            "writer-pending": parse_writer({"params": {"annotation_status": 24151}}, "me"),
        }

    def embedder(self, node: NodeSpec) -> Embedder:
        return self.embedder_impl

    def classifier(self, node: NodeSpec) -> ResolvedClassifier:
        return ResolvedClassifier("digits-v1", self.model)

    def thresholder(self, node: NodeSpec) -> ThresholderConfig:
        return self.thresholds[node.model_id]

    def writer(self, node: NodeSpec) -> WriterConfig:
        return self.writers[node.model_id]


def split(target: np.ndarray, per_concept: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    picked = [
        rng.choice(np.flatnonzero(target == c), per_concept, replace=False) for c in range(10)
    ]
    train_idx = np.sort(np.concatenate(picked))
    return train_idx, np.setdiff1d(np.arange(len(target)), train_idx)


def evaluate(
    seed: int,
    per_concept: int,
    images: list[Image.Image],
    vectors: np.ndarray,
    target: np.ndarray,
    embedder: Embedder,
) -> bool:
    tr, te = split(target, per_concept, seed)
    start = time.perf_counter()
    model = train(
        vectors[tr], [{str(t): 1.0} for t in target[tr]], CONCEPTS, embedder_id=embedder.id
    )
    train_s = time.perf_counter() - start
    accuracy = float((model.predict(vectors[te]).argmax(axis=1) == target[te]).mean())

    resolver = MemoryResolver(embedder, model)
    nodes = wizard_nodes()
    counts = {24150: [0, 0], 24151: [0, 0]}  # status -> [annotations, correct]
    unannotated = 0
    for i in te:
        # The embedding is passed in as ingest does (it embeds once, on processing).
        plans = planned_annotations(
            run(nodes, None, resolver, embeddings={embedder.id: vectors[i]}, input_id=str(i))
        )
        unannotated += not plans
        for plan in plans:
            counts[plan.status][0] += 1
            counts[plan.status][1] += all(c.id == str(target[i]) for c in plan.concepts)
    n = len(te)
    s_n, s_ok = counts[24150]
    p_n, p_ok = counts[24151]
    precision = s_ok / s_n if s_n else 0.0
    coverage = s_n / n
    ok = accuracy >= TARGET_ACCURACY and precision >= TARGET_PRECISION
    ok = ok and coverage >= TARGET_COVERAGE
    if seed == 0:
        record(
            "digits",
            "held-out accuracy (seed 0)",
            accuracy,
            "",
            target=f">= {TARGET_ACCURACY}",
            ok=accuracy >= TARGET_ACCURACY,
        )
        record(
            "digits",
            f"SUCCESS precision (GREATER_THAN {DEFAULT_HIGH})",
            precision,
            "",
            target=f">= {TARGET_PRECISION}",
            ok=precision >= TARGET_PRECISION,
        )
        record(
            "digits",
            "SUCCESS coverage of held-out inputs",
            coverage,
            "",
            target=f">= {TARGET_COVERAGE}",
            ok=coverage >= TARGET_COVERAGE,
        )
    print(
        f"seed {seed}: train {len(tr)} inputs in {train_s:.2f}s, held out {n}\n"
        f"  accuracy            {accuracy:.4f}   (target >= {TARGET_ACCURACY})\n"
        f"  SUCCESS precision   {precision:.4f}   (target >= {TARGET_PRECISION}; "
        f"GREATER_THAN {DEFAULT_HIGH})\n"
        f"  SUCCESS coverage    {coverage:.4f}   (target >= {TARGET_COVERAGE})\n"
        f"  PENDING coverage    {p_n / n:.4f}   precision {p_ok / p_n if p_n else 0:.4f} "
        f"(band ({DEFAULT_LOW}, {DEFAULT_HIGH}])\n"
        f"  no annotation       {unannotated / n:.4f}\n"
        f"  -> {'OK' if ok else 'BELOW TARGET'}"
    )
    return ok


def rate(fn: Callable[[int], object], n: int, repeat: int = 3) -> float:
    """Best-of-`repeat` items per second for calling fn(i) for i in range(n)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, time.perf_counter() - start)
    return n / best


def throughput(blobs: list[bytes], embedder: Embedder, model: TrainedClassifier) -> None:
    n = min(len(blobs), 600)
    images = [decode(b) for b in blobs[:n]]
    resolver = MemoryResolver(embedder, model)
    nodes = wizard_nodes()
    decode_rate = rate(lambda i: decode(blobs[i]), n)
    embed_rate = rate(lambda i: embedder.embed(images[i]), n)

    def embed_predict(i: int) -> object:
        return model.predict_concepts(embedder.embed(images[i]))

    def workflow(i: int) -> object:
        return run(nodes, images[i], resolver, input_id=str(i))

    ep_rate = rate(embed_predict, n)
    wf_rate = rate(workflow, n)
    size = images[0].size
    print(
        f"throughput ({n} images of {size[0]}x{size[1]}, one at a time, one core):\n"
        f"  PNG decode          {decode_rate:8.0f} images/s\n"
        f"  embed               {embed_rate:8.0f} images/s  ({1e3 / embed_rate:.2f} ms)\n"
        f"  embed + predict     {ep_rate:8.0f} images/s  ({1e3 / ep_rate:.2f} ms)\n"
        f"  whole workflow      {wf_rate:8.0f} images/s  ({1e3 / wf_rate:.2f} ms)\n"
        f"  workflow / (embed + predict) = {wf_rate / ep_rate:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-concept", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--size", type=int, default=64, help="PNG side in pixels")
    args = parser.parse_args()

    embedder = get_embedder()
    blobs, target = digit_pngs(args.size)
    images = [decode(b) for b in blobs]
    start = time.perf_counter()
    vectors = embedder.embed_many(images)
    print(
        f"{len(images)} digits as {args.size}x{args.size} PNG, embedder {embedder.id} "
        f"(dim {embedder.dim}): embedded in {time.perf_counter() - start:.2f}s"
    )
    results = [
        evaluate(seed, args.per_concept, images, vectors, target, embedder)
        for seed in range(args.seeds)
    ]
    tr, _ = split(target, args.per_concept, 0)
    model = train(vectors[tr], [{str(t): 1.0} for t in target[tr]], CONCEPTS)
    throughput(blobs, embedder, model)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
