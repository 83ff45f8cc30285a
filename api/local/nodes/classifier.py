"""The Context-Based Classifier (``embedding-classifier``): a linear model over embeddings.

Public API
----------
- ``train(embeddings, labels, concept_ids, *, mutually_exclusive=None, embedder_id="")
  -> TrainedClassifier``. ``embeddings`` is ``(n, dim)``; ``labels[i]`` maps concept id
  -> 1.0 (positive) or 0.0 (negative) for input ``i``, from its SUCCESS annotations;
  any value above 0 counts as positive (auto-annotations carry the predicted value, and
  accepting one in review confirms the concept); concept ids outside ``concept_ids`` are
  ignored. Raises ``TrainingError(reason)`` with a
  sentence fit for the version's 21106 status description.
- ``TrainedClassifier``: ``predict(embeddings) -> ndarray`` of values in [0, 1], one
  column per ``concept_ids`` entry (a 1-D embedding gives a 1-D result);
  ``predict_concepts(embedding, names)`` -> ``list[ScoredConcept]`` sorted by value;
  ``to_bytes()``/``from_bytes()`` (npz, never pickle); ``info`` (``TrainingInfo``) for
  the UI and the version's ``train_info``/``total_input_count``.

Model choice
------------
Features are standardised (mean/scale kept with the model) and fed to scikit-learn's
``LogisticRegression`` (L2, lbfgs, ``C=1``). Two modes:

- **exclusive** (softmax / multinomial): used when every labelled input has at most one
  positive among the model's concepts (digits, "walker" vs "runner"). The values of one
  input sum to 1, so a high threshold means "this and nothing else" and at most one
  concept can pass a threshold above 0.5. Inputs with only negative labels carry no class
  and are left out (counted in ``info.unused_inputs``).
- **one-vs-rest** (independent sigmoids): used as soon as one input has two positives
  (multi-label data), or when asked with ``mutually_exclusive=False``. For each concept,
  positives are its value-1 inputs; negatives are its value-0 inputs plus inputs positive
  for another concept and not labelled for it (the closed-world reading, as Clarifai's
  context-based classifier does). A concept with positives but no negatives is refused.

``mutually_exclusive=None`` (default) picks from the data; ``True`` refuses multi-label
data. Concepts with no positive input are allowed while at least two concepts have some:
they are listed in ``info.concepts_without_positives`` and always predicted 0.

Prediction is plain numpy (no scikit-learn import), so loading a stored model is cheap.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from api.local.nodes.common import ScoredConcept

Mode = Literal["exclusive", "one-vs-rest"]
FloatArray = npt.NDArray[np.float64]

FORMAT_VERSION: Final = 1
REGULARISATION_C: Final = 1.0
_MAX_ITER: Final = 2000


class TrainingError(Exception):
    """Training cannot proceed; ``reason`` is a human sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TrainingInfo:
    """What a trained version learned from, for the UI and the version's metadata."""

    mode: Mode
    input_count: int  # inputs that contributed to training
    positives: dict[str, int]  # concept id -> positive inputs
    negatives: dict[str, int]  # concept id -> inputs used as negatives
    unused_inputs: int = 0  # labelled inputs that carried no usable label
    concepts_without_positives: list[str] = field(default_factory=list)
    embedder_id: str = ""
    train_accuracy: float = 0.0  # on the training inputs (exclusive mode), for a sanity hint

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "input_count": self.input_count,
            "positives": dict(self.positives),
            "negatives": dict(self.negatives),
            "unused_inputs": self.unused_inputs,
            "concepts_without_positives": list(self.concepts_without_positives),
            "embedder_id": self.embedder_id,
            "train_accuracy": self.train_accuracy,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> TrainingInfo:
        mode = str(d["mode"])
        if mode not in ("exclusive", "one-vs-rest"):
            raise ValueError(f"unknown classifier mode {mode!r}")
        positives = d.get("positives", {})
        negatives = d.get("negatives", {})
        missing = d.get("concepts_without_positives", [])
        if not isinstance(positives, dict) or not isinstance(negatives, dict):
            raise ValueError("classifier info: positives and negatives must be objects")
        if not isinstance(missing, list):
            raise ValueError("classifier info: concepts_without_positives must be a list")
        return cls(
            mode="exclusive" if mode == "exclusive" else "one-vs-rest",
            input_count=_number(d.get("input_count", 0)),
            positives={str(k): _number(v) for k, v in positives.items()},
            negatives={str(k): _number(v) for k, v in negatives.items()},
            unused_inputs=_number(d.get("unused_inputs", 0)),
            concepts_without_positives=[str(c) for c in missing],
            embedder_id=str(d.get("embedder_id", "")),
            train_accuracy=_float(d.get("train_accuracy", 0.0)),
        )


def _float(value: object) -> float:
    """A JSON number from a stored header."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"classifier info: expected a number, got {value!r}")
    return float(value)


def _number(value: object) -> int:
    return int(_float(value))


def _softmax(z: FloatArray) -> FloatArray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


def _sigmoid(z: FloatArray) -> FloatArray:
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic
    return out


class TrainedClassifier:
    """A trained linear model: ``values = link(((x - mean) / scale) @ coef.T + intercept)``.

    ``coef`` has one row per entry of ``concept_ids``. In exclusive mode the link is a
    softmax over the rows whose ``active`` flag is set (others are 0); in one-vs-rest mode
    a sigmoid per row (inactive rows are 0).
    """

    def __init__(
        self,
        concept_ids: Sequence[str],
        coef: FloatArray,
        intercept: FloatArray,
        mean: FloatArray,
        scale: FloatArray,
        active: npt.NDArray[np.bool_],
        info: TrainingInfo,
    ) -> None:
        k = len(concept_ids)
        if coef.shape[0] != k or intercept.shape != (k,) or active.shape != (k,):
            raise ValueError("classifier arrays do not match its concepts")
        if mean.shape != (coef.shape[1],) or scale.shape != mean.shape:
            raise ValueError("classifier normalisation does not match its weights")
        self.concept_ids: list[str] = list(concept_ids)
        self.coef = coef
        self.intercept = intercept
        self.mean = mean
        self.scale = scale
        self.active = active
        self.info = info

    @property
    def dim(self) -> int:
        """The embedding length this model expects."""
        return int(self.coef.shape[1])

    @property
    def mode(self) -> Mode:
        return self.info.mode

    def predict(self, embeddings: npt.ArrayLike) -> FloatArray:
        """Values in [0, 1]: ``(n, k)`` for ``(n, dim)`` input, ``(k,)`` for ``(dim,)``."""
        x = np.asarray(embeddings, dtype=np.float64)
        single = x.ndim == 1
        x2 = x[None, :] if single else x
        if x2.ndim != 2 or x2.shape[1] != self.dim:
            raise ValueError(
                f"embedding has shape {x.shape}, but this classifier was trained on "
                f"{self.dim}-dimensional embeddings ({self.info.embedder_id or 'unknown'})"
            )
        z = ((x2 - self.mean) / self.scale) @ self.coef.T + self.intercept
        if self.info.mode == "exclusive":
            z = np.where(self.active, z, -np.inf)
            values = _softmax(z)
        else:
            values = np.where(self.active, _sigmoid(z), 0.0)
        values = np.clip(values, 0.0, 1.0)
        return values[0] if single else values

    def predict_concepts(
        self, embedding: npt.ArrayLike, names: Mapping[str, str] | None = None
    ) -> list[ScoredConcept]:
        """One embedding -> its concepts, highest value first (names default to ids)."""
        values = self.predict(np.asarray(embedding).reshape(-1))
        names = names or {}
        scored = [
            ScoredConcept(cid, names.get(cid, cid), float(v))
            for cid, v in zip(self.concept_ids, values, strict=True)
        ]
        return sorted(scored, key=lambda c: (-c.value, c.id))

    def to_bytes(self) -> bytes:
        """An ``.npz`` archive (no pickled objects): arrays plus a JSON header."""
        header = {
            "format": FORMAT_VERSION,
            "concept_ids": self.concept_ids,
            "info": self.info.to_dict(),
        }
        buf = io.BytesIO()
        np.savez(
            buf,
            header=np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8),
            coef=self.coef,
            intercept=self.intercept,
            mean=self.mean,
            scale=self.scale,
            active=self.active,
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainedClassifier:
        """The inverse of ``to_bytes``; ValueError for anything else."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                header = json.loads(npz["header"].tobytes().decode("utf-8"))
                arrays = {k: npz[k] for k in ("coef", "intercept", "mean", "scale", "active")}
        except (OSError, KeyError, ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"not a stored classifier: {exc}") from exc
        if header.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported classifier format {header.get('format')!r}")
        return cls(
            concept_ids=[str(c) for c in header["concept_ids"]],
            coef=arrays["coef"].astype(np.float64),
            intercept=arrays["intercept"].astype(np.float64),
            mean=arrays["mean"].astype(np.float64),
            scale=arrays["scale"].astype(np.float64),
            active=arrays["active"].astype(bool),
            info=TrainingInfo.from_dict(header["info"]),
        )


def _quoted(ids: Sequence[str]) -> str:
    return ", ".join(repr(c) for c in ids)


def train(
    embeddings: npt.ArrayLike,
    labels: Sequence[Mapping[str, float]],
    concept_ids: Sequence[str],
    *,
    mutually_exclusive: bool | None = None,
    embedder_id: str = "",
) -> TrainedClassifier:
    """Fit a classifier for ``concept_ids`` (see the module docstring for the rules)."""
    concepts = list(dict.fromkeys(concept_ids))
    if len(concepts) < 2:
        raise TrainingError(
            "a classifier needs at least two concepts in output_info.data.concepts, "
            f"it has {len(concepts)}" + (f" ({_quoted(concepts)})" if concepts else "")
        )
    if not labels:
        raise TrainingError(
            f"no inputs are labelled with the model's concepts ({_quoted(concepts)}): "
            "label some inputs first"
        )
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(labels):
        raise TrainingError(
            f"{len(labels)} label sets for embeddings of shape {x.shape}: they must match"
        )
    if x.shape[0] and not np.isfinite(x).all():
        raise TrainingError("some embeddings contain NaN or infinite values")
    index = {c: j for j, c in enumerate(concepts)}
    k = len(concepts)
    # y[i, j]: 1 positive, 0 negative, -1 not labelled.
    y = np.full((len(labels), k), -1, dtype=np.int8)
    for i, lab in enumerate(labels):
        for cid, value in lab.items():
            j = index.get(cid)
            if j is not None:
                y[i, j] = 1 if value > 0 else 0
    labelled: npt.NDArray[np.bool_] = np.asarray((y >= 0).any(axis=1), dtype=bool)
    pos_counts = (y == 1).sum(axis=0)
    with_pos = [c for c, n in zip(concepts, pos_counts, strict=True) if n > 0]
    if len(with_pos) < 2:
        if not with_pos:
            raise TrainingError(
                "no input is labelled positive for any of the model's concepts "
                f"({_quoted(concepts)}): label some inputs first"
            )
        n = int(pos_counts[index[with_pos[0]]])
        raise TrainingError(
            f"fewer than two concepts have labelled inputs: only {with_pos[0]!r} has any "
            f"({n} input{'s' if n != 1 else ''})"
        )
    multi = (y == 1).sum(axis=1) > 1
    if mutually_exclusive is True and multi.any():
        raise TrainingError(
            f"the concepts are mutually exclusive, but {int(multi.sum())} inputs are "
            "labelled positive for more than one of them"
        )
    exclusive = mutually_exclusive is not False and not multi.any()
    missing = [c for c, n in zip(concepts, pos_counts, strict=True) if n == 0]
    if exclusive:
        return _train_exclusive(x, y, concepts, missing, embedder_id, int(labelled.sum()))
    return _train_ovr(x, y, concepts, missing, embedder_id, labelled)


def _standardise(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-8, scale, 1.0)
    return mean, scale


def _train_exclusive(
    x: FloatArray,
    y: npt.NDArray[np.int8],
    concepts: list[str],
    missing: list[str],
    embedder_id: str,
    labelled_count: int,
) -> TrainedClassifier:
    from sklearn.linear_model import LogisticRegression

    rows = np.flatnonzero((y == 1).any(axis=1))
    target = (y[rows] == 1).argmax(axis=1)
    xs = x[rows]
    mean, scale = _standardise(xs)
    xn = (xs - mean) / scale
    model = LogisticRegression(C=REGULARISATION_C, max_iter=_MAX_ITER)
    model.fit(xn, target)
    k, d = len(concepts), x.shape[1]
    coef = np.zeros((k, d))
    intercept = np.zeros(k)
    classes = [int(c) for c in model.classes_]
    if len(classes) == 2:
        # Binary LogisticRegression keeps one row w (for classes[1]); softmax over
        # (-w/2, +w/2) gives exactly sigmoid(w . x) for classes[1].
        w, b = model.coef_[0], float(model.intercept_[0])
        coef[classes[0]], intercept[classes[0]] = -w / 2, -b / 2
        coef[classes[1]], intercept[classes[1]] = w / 2, b / 2
    else:
        for row, cls in enumerate(classes):
            coef[cls], intercept[cls] = model.coef_[row], model.intercept_[row]
    active = np.zeros(k, dtype=bool)
    active[classes] = True
    positives = {c: int((target == j).sum()) for j, c in enumerate(concepts)}
    negatives = {c: int(len(rows) - positives[c]) for c in concepts}
    info = TrainingInfo(
        mode="exclusive",
        input_count=len(rows),
        positives=positives,
        negatives=negatives,
        unused_inputs=labelled_count - len(rows),
        concepts_without_positives=missing,
        embedder_id=embedder_id,
        train_accuracy=float(model.score(xn, target)),
    )
    return TrainedClassifier(concepts, coef, intercept, mean, scale, active, info)


def _train_ovr(
    x: FloatArray,
    y: npt.NDArray[np.int8],
    concepts: list[str],
    missing: list[str],
    embedder_id: str,
    labelled: npt.NDArray[np.bool_],
) -> TrainedClassifier:
    from sklearn.linear_model import LogisticRegression

    any_pos = (y == 1).any(axis=1)
    rows = np.flatnonzero(labelled)
    mean, scale = _standardise(x[rows])
    k, d = len(concepts), x.shape[1]
    coef = np.zeros((k, d))
    intercept = np.zeros(k)
    active = np.zeros(k, dtype=bool)
    positives: dict[str, int] = {}
    negatives: dict[str, int] = {}
    used = np.zeros(len(y), dtype=bool)
    for j, cid in enumerate(concepts):
        pos = y[:, j] == 1
        neg = (y[:, j] == 0) | ((y[:, j] == -1) & any_pos)
        positives[cid], negatives[cid] = int(pos.sum()), int(neg.sum())
        if not pos.any():
            continue
        if not neg.any():
            raise TrainingError(
                f"concept {cid!r} has no negative examples: every labelled input is "
                "positive for it; label some inputs with it as negative (value 0)"
            )
        sel = pos | neg
        used |= sel
        model = LogisticRegression(C=REGULARISATION_C, max_iter=_MAX_ITER)
        model.fit((x[sel] - mean) / scale, pos[sel].astype(int))
        coef[j], intercept[j] = model.coef_[0], float(model.intercept_[0])
        active[j] = True
    info = TrainingInfo(
        mode="one-vs-rest",
        input_count=int(used.sum()),
        positives=positives,
        negatives=negatives,
        unused_inputs=int(labelled.sum() - used.sum()),
        concepts_without_positives=missing,
        embedder_id=embedder_id,
    )
    return TrainedClassifier(concepts, coef, intercept, mean, scale, active, info)
