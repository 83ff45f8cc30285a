"""Training and prediction on real images; errors; storage round trip."""

from __future__ import annotations

import numpy as np
import pytest

from api.local.nodes.classifier import TrainedClassifier, TrainingError, train
from api.local.nodes.embedder import Embedder

from .conftest import PARK, LabelledSet

DIGITS = [str(d) for d in range(10)]


def _split(labels: np.ndarray, per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    train_idx = np.concatenate(
        [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(10)]
    )
    return train_idx, np.setdiff1d(np.arange(len(labels)), train_idx)


def test_digits_held_out_accuracy(
    digits: tuple[list[object], np.ndarray], digit_embeddings: np.ndarray
) -> None:
    _, target = digits
    tr, te = _split(target, 30)
    model = train(digit_embeddings[tr], [{str(t): 1.0} for t in target[tr]], DIGITS)
    assert model.mode == "exclusive"
    values = model.predict(digit_embeddings[te])
    assert values.shape == (len(te), 10)
    assert ((values >= 0) & (values <= 1)).all()
    assert np.allclose(values.sum(axis=1), 1.0)
    accuracy = float((values.argmax(axis=1) == target[te]).mean())
    assert accuracy >= 0.93, accuracy
    confident = values.max(axis=1) > 0.9
    precision = float((values.argmax(axis=1)[confident] == target[te][confident]).mean())
    assert precision >= 0.97 and confident.mean() >= 0.6, (precision, confident.mean())


def test_park_held_out_accuracy(
    park_sets: tuple[LabelledSet, LabelledSet],
    park_classifier: TrainedClassifier,
    embedder: Embedder,
) -> None:
    _, test_set = park_sets
    values = park_classifier.predict(embedder.embed_many(test_set.images))
    predicted = [PARK[i] for i in values.argmax(axis=1)]
    accuracy = np.mean([p == c for p, c in zip(predicted, test_set.concepts, strict=True)])
    assert accuracy >= 0.9, accuracy
    info = park_classifier.info
    assert info.input_count == 120
    assert info.positives == {c: 24 for c in PARK}
    assert info.embedder_id == "handcrafted-v1"


def test_predict_concepts_sorted_with_names(
    park_sets: tuple[LabelledSet, LabelledSet],
    park_classifier: TrainedClassifier,
    embedder: Embedder,
) -> None:
    image = park_sets[1].images[0]
    concepts = park_classifier.predict_concepts(embedder.embed(image), {"walker": "Walker"})
    assert [c.value for c in concepts] == sorted((c.value for c in concepts), reverse=True)
    assert {c.id for c in concepts} == set(PARK)
    assert next(c for c in concepts if c.id == "walker").name == "Walker"
    assert next(c for c in concepts if c.id == "runner").name == "runner"


def test_round_trip_bytes(park_classifier: TrainedClassifier, digit_embeddings: np.ndarray) -> None:
    blob = park_classifier.to_bytes()
    assert blob[:2] == b"PK"  # an npz (zip) archive
    again = TrainedClassifier.from_bytes(blob)
    x = digit_embeddings[:20]
    assert np.array_equal(again.predict(x), park_classifier.predict(x))
    assert again.concept_ids == park_classifier.concept_ids
    assert again.info == park_classifier.info
    with np.load(__import__("io").BytesIO(blob), allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)


def test_from_bytes_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="not a stored classifier"):
        TrainedClassifier.from_bytes(b"definitely not a model")


def test_wrong_dimension_is_refused(park_classifier: TrainedClassifier) -> None:
    with pytest.raises(ValueError, match="trained on 329-dimensional embeddings"):
        park_classifier.predict(np.zeros(12, dtype=np.float32))


def test_single_embedding_gives_one_row(
    park_classifier: TrainedClassifier, digit_embeddings: np.ndarray
) -> None:
    assert park_classifier.predict(digit_embeddings[0]).shape == (5,)


def _blobs(n: int, k: int, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim)) * 3
    y = np.arange(n) % k
    return centres[y] + rng.normal(size=(n, dim)), y


def test_two_concepts_exclusive_matches_sigmoid() -> None:
    x, y = _blobs(40, 2)
    model = train(x, [{"a" if t == 0 else "b": 1.0} for t in y], ["a", "b"])
    values = model.predict(x)
    assert np.allclose(values.sum(axis=1), 1.0)
    assert (values.argmax(axis=1) == y).mean() > 0.95


def test_multi_label_data_uses_one_vs_rest() -> None:
    x, y = _blobs(60, 3)
    labels: list[dict[str, float]] = []
    for t in y:
        lab = {"person": 1.0} if t != 2 else {"person": 0.0, "adult": 0.0}
        if t == 1:
            lab["adult"] = 1.0
        labels.append(lab)
    model = train(x, labels, ["person", "adult", "unused"])
    assert model.mode == "one-vs-rest"
    values = model.predict(x)
    assert (values[:, 0] > 0.5).mean() == pytest.approx((y != 2).mean(), abs=0.05)
    assert (values[y == 1, 1] > 0.5).mean() > 0.9
    assert (values[y == 0, 1] < 0.5).mean() > 0.9
    assert (values[:, 2] == 0).all()
    assert model.info.concepts_without_positives == ["unused"]
    assert TrainedClassifier.from_bytes(model.to_bytes()).mode == "one-vs-rest"


def test_concept_without_positives_predicts_zero() -> None:
    x, y = _blobs(30, 2)
    model = train(x, [{"a" if t == 0 else "b": 1.0} for t in y], ["a", "b", "c"])
    assert (model.predict(x)[:, 2] == 0).all()
    assert model.info.concepts_without_positives == ["c"]


def test_negative_only_inputs_are_unused_in_exclusive_mode() -> None:
    x, y = _blobs(30, 2)
    labels = [{"a" if t == 0 else "b": 1.0} for t in y]
    labels[0] = {"a": 0.0}
    model = train(x, labels, ["a", "b"])
    assert model.info.unused_inputs == 1 and model.info.input_count == 29


def test_fewer_than_two_concepts_with_labels() -> None:
    x, _ = _blobs(5, 1)
    labels = [{"walker": 1.0}] * 3 + [{"runner": 0.0}, {}]
    with pytest.raises(TrainingError) as err:
        train(x, labels, ["walker", "runner"])
    assert err.value.reason == (
        "fewer than two concepts have labelled inputs: only 'walker' has any (3 inputs)"
    )


def test_no_labels_at_all() -> None:
    x, _ = _blobs(4, 1)
    with pytest.raises(TrainingError, match=r"no input is labelled positive.*'a', 'b'"):
        train(x, [{}] * 4, ["a", "b"])


def test_no_inputs() -> None:
    with pytest.raises(TrainingError, match=r"no inputs are labelled.*\('a', 'b'\)"):
        train(np.zeros((0, 4)), [], ["a", "b"])


def test_one_concept_model() -> None:
    x, _ = _blobs(4, 1)
    with pytest.raises(TrainingError, match=r"at least two concepts.*it has 1 \('a'\)"):
        train(x, [{"a": 1.0}] * 4, ["a"])


def test_shape_mismatch() -> None:
    x, _ = _blobs(4, 2)
    with pytest.raises(TrainingError, match="3 label sets for embeddings of shape"):
        train(x, [{"a": 1.0}] * 3, ["a", "b"])


def test_exclusive_refuses_multi_label() -> None:
    x, _ = _blobs(4, 2)
    labels = [{"a": 1.0, "b": 1.0}, {"a": 1.0}, {"b": 1.0}, {"b": 1.0}]
    with pytest.raises(TrainingError, match="1 inputs are labelled positive for more than one"):
        train(x, labels, ["a", "b"], mutually_exclusive=True)


def test_ovr_needs_negatives() -> None:
    x, _ = _blobs(4, 2)
    labels = [{"a": 1.0, "b": 1.0}] * 4
    with pytest.raises(TrainingError, match="concept 'a' has no negative examples"):
        train(x, labels, ["a", "b"])


def test_training_is_deterministic() -> None:
    x, y = _blobs(50, 3)
    labels = [{"abc"[t]: 1.0} for t in y]
    assert train(x, labels, list("abc")).to_bytes() == train(x, labels, list("abc")).to_bytes()
