"""SIGKILL the server while it trains a classifier, restart it on the same data dir.

The version acknowledged by PostModelVersions must survive, be trained again from the start at
the restart (attempt 2, resumed) and end TRAINED; no second version appears, the labels and
inputs are intact, the trained version predicts, and the database is sound.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx

from tests.faults.support import DB_NAME, b64, integrity, list_all, poll, serve, tiny_png

APP = "train"
BASE = f"/v2/users/me/apps/{APP}"
CONCEPTS = ("light", "dark")


def _labelled() -> list[dict[str, Any]]:
    """Eight bright and eight dark 8x8 images, labelled with their concept."""
    items = []
    for n in range(16):
        concept = CONCEPTS[n % 2]
        shade = 0xF0F0F0 - n if concept == "light" else 0x101010 + n
        items.append(
            {
                "id": f"{concept}-{n}",
                "data": {
                    "image": {"base64": b64(tiny_png(shade, size=8))},
                    "concepts": [{"id": concept, "value": 1}],
                },
            }
        )
    return items


def _version(http: httpx.Client, version_id: str) -> dict[str, Any]:
    r = http.get(f"{BASE}/models/shade/versions/{version_id}")
    assert r.status_code == 200, r.text
    version: dict[str, Any] = r.json()["model_version"]
    return version


def test_sigkill_during_training_resumes_the_same_version(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with (
        serve(data, wrapper="tests.faults.slow_serve", env={"FAULTS_TRAIN_DELAY": "30"}) as first,
        first.client() as http,
    ):
        assert http.post("/v2/users/me/apps", json={"apps": [{"id": APP}]}).status_code == 200
        r = http.post(f"{BASE}/concepts", json={"concepts": [{"id": c} for c in CONCEPTS]})
        assert r.status_code == 200, r.text
        r = http.post(f"{BASE}/inputs", json={"inputs": _labelled()})
        assert r.status_code == 200 and r.json()["status"]["code"] == 10000, r.text
        model = {
            "id": "shade",
            "model_type_id": "embedding-classifier",
            "output_info": {"data": {"concepts": [{"id": c} for c in CONCEPTS]}},
        }
        assert http.post(f"{BASE}/models", json={"model": model}).status_code == 200
        r = http.post(f"{BASE}/models/shade/versions", json={})
        assert r.status_code == 200, r.text
        version_id = r.json()["model"]["model_version"]["id"]
        training = poll(
            lambda: (v := _version(http, version_id))["status"]["code"] == 21101 and v,
            "the version to be training",
        )
        assert "attempt" not in training["status"]["description"]
        first.proc.send_signal(signal.SIGKILL)
        assert first.proc.wait(30) == -signal.SIGKILL

    with serve(data) as second, second.client() as http:
        trained = poll(
            lambda: (v := _version(http, version_id))["status"]["code"] in (21100, 21106) and v,
            "the resumed training to end",
        )
        assert trained["status"]["code"] == 21100, trained["status"]
        # Trained again from the start after the kill: the second attempt.
        assert trained["metadata"]["training"]["attempts"] == 2, trained.get("metadata")
        versions = http.get(f"{BASE}/models/shade/versions").json()["model_versions"]
        assert [v["id"] for v in versions] == [version_id], "a second version appeared"
        info = http.get(f"{BASE}/models/shade").json()["model"]
        assert info["model_version"]["id"] == version_id
        # Labels and inputs as they were.
        listed = list_all(http, APP)
        assert sorted(i["id"] for i in listed) == sorted(i["id"] for i in _labelled())
        annotations = http.get(f"{BASE}/annotations", params={"per_page": 100}).json()
        labelled = {
            a["input_id"]: a["data"]["concepts"][0]["id"]
            for a in annotations["annotations"]
            if a["data"].get("concepts")
        }
        assert labelled == {i["id"]: i["id"].split("-")[0] for i in _labelled()}
        # The resumed version predicts: a bright image is "light".
        r = http.post(
            f"{BASE}/models/shade/versions/{version_id}/outputs",
            json={"inputs": [{"data": {"image": {"base64": b64(tiny_png(0xFAFAFA, size=8))}}}]},
        )
        assert r.status_code == 200, r.text
        top = r.json()["outputs"][0]["data"]["concepts"][0]
        assert top["id"] == "light", r.json()["outputs"][0]["data"]["concepts"]
    assert integrity(data / DB_NAME) == "ok"
