"""Versioned schema migrations for the embedded backend's SQLite database.

Each migration runs once, in its own transaction, and records its version in ``schema_version``.
Append new migrations at the end of
``MIGRATIONS`` with the next version number; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from api.local.sql import new_id


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...] = ()
    #: Optional Python step run after ``statements``, inside the same transaction.
    apply: Callable[[sqlite3.Connection], None] | None = field(default=None, compare=False)


_V1 = (
    """CREATE TABLE apps (
        pk INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        default_workflow_id TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        modified_at REAL NOT NULL,
        UNIQUE (user_id, id)
    )""",
    """CREATE TABLE inputs (
        pk INTEGER PRIMARY KEY,
        app_pk INTEGER NOT NULL REFERENCES apps (pk) ON DELETE CASCADE,
        id TEXT NOT NULL,
        source_url TEXT NOT NULL DEFAULT '',
        blob_sha TEXT,
        thumb_sha TEXT,
        width INTEGER NOT NULL DEFAULT 0,
        height INTEGER NOT NULL DEFAULT 0,
        format TEXT NOT NULL DEFAULT '',
        color_mode TEXT NOT NULL DEFAULT '',
        metadata TEXT NOT NULL DEFAULT '{}',
        status_code INTEGER NOT NULL,
        status_description TEXT NOT NULL DEFAULT '',
        workflow_status_code INTEGER,
        workflow_status_description TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        modified_at REAL NOT NULL,
        UNIQUE (app_pk, id)
    )""",
    # Paging newest-first: ORDER BY pk DESC walks this index (an index also holds the rowid).
    "CREATE INDEX inputs_by_app ON inputs (app_pk, pk)",
    "CREATE INDEX inputs_by_status ON inputs (app_pk, status_code, pk)",
    "CREATE INDEX inputs_by_blob ON inputs (blob_sha)",
    "CREATE INDEX inputs_by_thumb ON inputs (thumb_sha)",
    """CREATE TABLE concepts (
        pk INTEGER PRIMARY KEY,
        app_pk INTEGER NOT NULL REFERENCES apps (pk) ON DELETE CASCADE,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at REAL NOT NULL,
        modified_at REAL NOT NULL,
        UNIQUE (app_pk, id)
    )""",
    """CREATE TABLE annotations (
        pk INTEGER PRIMARY KEY,
        app_pk INTEGER NOT NULL REFERENCES apps (pk) ON DELETE CASCADE,
        input_pk INTEGER NOT NULL REFERENCES inputs (pk) ON DELETE CASCADE,
        id TEXT NOT NULL,
        user_id TEXT NOT NULL DEFAULT '',
        model_version_id TEXT NOT NULL DEFAULT '',
        workflow_version_id TEXT NOT NULL DEFAULT '',
        metadata TEXT,
        annotation_info TEXT,
        status_code INTEGER NOT NULL,
        status_description TEXT NOT NULL DEFAULT '',
        input_level INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        modified_at REAL NOT NULL,
        UNIQUE (app_pk, id)
    )""",
    "CREATE INDEX annotations_by_input ON annotations (input_pk, input_level)",
    "CREATE INDEX annotations_by_app ON annotations (app_pk, pk)",
    "CREATE INDEX annotations_by_status ON annotations (app_pk, status_code, pk)",
    "CREATE INDEX annotations_by_user ON annotations (app_pk, user_id, model_version_id)",
    "CREATE INDEX annotations_by_model ON annotations (app_pk, model_version_id)",
    """CREATE TABLE annotation_concepts (
        annotation_pk INTEGER NOT NULL REFERENCES annotations (pk) ON DELETE CASCADE,
        concept_id TEXT NOT NULL,
        value REAL NOT NULL,
        UNIQUE (annotation_pk, concept_id)
    )""",
    "CREATE INDEX annotation_concepts_by_concept ON annotation_concepts (concept_id)",
    """CREATE TABLE ingest_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        input_pk INTEGER NOT NULL UNIQUE REFERENCES inputs (pk) ON DELETE CASCADE,
        enqueued_at REAL NOT NULL
    )""",
)

_V2 = (
    """CREATE TABLE models (
        pk INTEGER PRIMARY KEY,
        app_pk INTEGER NOT NULL REFERENCES apps (pk) ON DELETE CASCADE,
        id TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        model_type_id TEXT NOT NULL,
        output_info TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        modified_at REAL NOT NULL,
        UNIQUE (app_pk, id)
    )""",
    "CREATE INDEX models_by_app ON models (app_pk, pk)",
    # Versions: QUEUED (21103) and TRAINING (21101) rows are the durable training queue.
    """CREATE TABLE model_versions (
        pk INTEGER PRIMARY KEY,
        model_pk INTEGER NOT NULL REFERENCES models (pk) ON DELETE CASCADE,
        id TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        status_code INTEGER NOT NULL,
        status_description TEXT NOT NULL DEFAULT '',
        train_params TEXT,
        output_info TEXT NOT NULL DEFAULT '{}',
        training_info TEXT,
        total_input_count INTEGER NOT NULL DEFAULT 0,
        active_concept_count INTEGER NOT NULL DEFAULT 0,
        classifier BLOB,
        created_at REAL NOT NULL,
        modified_at REAL NOT NULL,
        completed_at REAL
    )""",
    "CREATE INDEX model_versions_by_model ON model_versions (model_pk, pk)",
    "CREATE INDEX model_versions_by_status ON model_versions (status_code)",
    """CREATE TABLE workflows (
        pk INTEGER PRIMARY KEY,
        app_pk INTEGER NOT NULL REFERENCES apps (pk) ON DELETE CASCADE,
        id TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        nodes TEXT NOT NULL,
        metadata TEXT,
        created_at REAL NOT NULL,
        modified_at REAL NOT NULL,
        UNIQUE (app_pk, id)
    )""",
    "CREATE INDEX workflows_by_app ON workflows (app_pk, pk)",
    # One row per workflow node: which workflows use which model (DeleteModel checks it).
    """CREATE TABLE workflow_models (
        workflow_pk INTEGER NOT NULL REFERENCES workflows (pk) ON DELETE CASCADE,
        model_pk INTEGER NOT NULL REFERENCES models (pk) ON DELETE CASCADE,
        UNIQUE (workflow_pk, model_pk)
    )""",
    "CREATE INDEX workflow_models_by_model ON workflow_models (model_pk)",
    """CREATE TABLE embeddings (
        input_pk INTEGER NOT NULL REFERENCES inputs (pk) ON DELETE CASCADE,
        embedder_id TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (input_pk, embedder_id)
    ) WITHOUT ROWID""",
)

# Small blobs (images and thumbnails up to store.INLINE_BLOB_MAX) live in the database,
# committed with the rows that refer to them; larger ones stay files under blobs/. Blob files
# written before this version stay where they are: reads look in both places.
_V3 = (
    """CREATE TABLE blobs (
        sha TEXT PRIMARY KEY,
        data BLOB NOT NULL
    )""",
)

# Embeddings as a rowid table. In a WITHOUT ROWID table a row lives in an index b-tree, whose
# rows keep at most ~1,000 bytes on their page (with 4 KB pages): each 1,316-byte vector of the
# default embedder spilled into an overflow page of its own, so that every ingested input wrote a
# mostly empty 4 KB page (to the WAL, then again at checkpoint). A rowid table keeps up to ~4 KB
# on the page: three vectors share one. Writing 10,240 embeddings went from 23 to 9 us each, and
# from 11,705 pages to 3,496.
_V4 = (
    """CREATE TABLE embeddings_v4 (
        input_pk INTEGER NOT NULL REFERENCES inputs (pk) ON DELETE CASCADE,
        embedder_id TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (input_pk, embedder_id)
    )""",
    "INSERT INTO embeddings_v4 (input_pk, embedder_id, dim, vector) "
    "SELECT input_pk, embedder_id, dim, vector FROM embeddings ORDER BY input_pk, embedder_id",
    "DROP TABLE embeddings",
    "ALTER TABLE embeddings_v4 RENAME TO embeddings",
)


def _public(conn: sqlite3.Connection) -> None:
    from api.local.public import create

    create(conn)


_OPERATOR_TYPES = ("concept-thresholder", "concept-threshold", "annotation-writer")
_CONFIG_KEYS = ("data", "params", "output_config")


def _config(text: str | None) -> dict[str, object]:
    import json

    info = json.loads(text or "{}")
    return {k: info[k] for k in _CONFIG_KEYS if info.get(k) not in (None, {})}


def _versions_hold_configuration(conn: sqlite3.Connection) -> None:
    """Data dirs from before model versions held the configuration: a thresholder or writer
    ran with its model's ``output_info`` (PatchModels changed it in place, with no new
    version). Each gets a ready version with that configuration unless its latest version
    already has it; then every workflow node that pinned no version pins the one it ran
    (operators: the latest; classifiers: the latest trained), so nothing runs differently."""
    import json

    now = time.time()
    marks = ", ".join("?" * len(_OPERATOR_TYPES))
    for model_pk, info in conn.execute(
        f"SELECT pk, output_info FROM models WHERE model_type_id IN ({marks})", _OPERATOR_TYPES
    ).fetchall():
        latest = conn.execute(
            "SELECT output_info FROM model_versions WHERE model_pk = ? ORDER BY pk DESC LIMIT 1",
            (model_pk,),
        ).fetchone()
        config = _config(info)
        if latest is not None and _config(latest[0]) == config:
            continue
        conn.execute(
            "INSERT INTO model_versions (model_pk, id, status_code, status_description, "
            "output_info, created_at, modified_at, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                model_pk,
                new_id(),
                21100,
                "Model is ready: its configuration as it was before versions held it",
                json.dumps(config),
                now,
                now,
                now,
            ),
        )
    public = conn.execute("SELECT pk FROM apps WHERE user_id = 'clarifai' AND id = 'main'")
    public_row = public.fetchone()
    public_pk = public_row[0] if public_row else -1
    for workflow_pk, app_pk, nodes_text in conn.execute(
        "SELECT pk, app_pk, nodes FROM workflows"
    ).fetchall():
        nodes = json.loads(nodes_text)
        changed = False
        for node in nodes:
            if node.get("model_version_id"):
                continue
            owners = [public_pk] if node.get("model_app_id") else [app_pk, public_pk]
            for owner in owners:
                found = conn.execute(
                    "SELECT pk, model_type_id FROM models WHERE app_pk = ? AND id = ?",
                    (owner, node.get("model_id", "")),
                ).fetchone()
                if found is not None:
                    break
            if found is None:
                continue
            trained = " AND status_code = 21100" if found[1] == "embedding-classifier" else ""
            version = conn.execute(
                f"SELECT id FROM model_versions WHERE model_pk = ?{trained} "
                "ORDER BY pk DESC LIMIT 1",
                (found[0],),
            ).fetchone()
            if version is not None:
                node["model_version_id"] = version[0]
                changed = True
        if changed:
            conn.execute(
                "UPDATE workflows SET nodes = ? WHERE pk = ?", (json.dumps(nodes), workflow_pk)
            )


#: GetInputCount and the Explorer's totals read one row per status instead of counting an
#: app's inputs (42 ms at 1,000,000; asked every 2 s while the Explorer is open). SQLite runs
#: the triggers inside the statement's transaction, so a count can never disagree with the
#: inputs, after a kill -9 included; they fire for every path that writes inputs (and for
#: the cascade when an app is deleted).
_V8: tuple[str, ...] = (
    """CREATE TABLE input_counts (
        app_pk INTEGER NOT NULL,
        status_code INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (app_pk, status_code)
    ) WITHOUT ROWID""",
    """INSERT INTO input_counts (app_pk, status_code, n)
       SELECT app_pk, status_code, COUNT(*) FROM inputs GROUP BY app_pk, status_code""",
    """CREATE TRIGGER input_counts_insert AFTER INSERT ON inputs BEGIN
        INSERT INTO input_counts (app_pk, status_code, n) VALUES (new.app_pk, new.status_code, 1)
        ON CONFLICT (app_pk, status_code) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER input_counts_delete AFTER DELETE ON inputs BEGIN
        UPDATE input_counts SET n = n - 1
        WHERE app_pk = old.app_pk AND status_code = old.status_code;
    END""",
    """CREATE TRIGGER input_counts_update AFTER UPDATE OF status_code, app_pk ON inputs
    WHEN old.status_code != new.status_code OR old.app_pk != new.app_pk BEGIN
        UPDATE input_counts SET n = n - 1
        WHERE app_pk = old.app_pk AND status_code = old.status_code;
        INSERT INTO input_counts (app_pk, status_code, n) VALUES (new.app_pk, new.status_code, 1)
        ON CONFLICT (app_pk, status_code) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER input_counts_app_delete AFTER DELETE ON apps BEGIN
        DELETE FROM input_counts WHERE app_pk = old.pk;
    END""",
)


#: PostInputs may name an ``inputs_add_job_id`` (the official SDK always does); GetInputsAddJob
#: then reports its inputs' progress and CancelInputsAddJob stops the ones not yet processed.
_V9: tuple[str, ...] = (
    """CREATE TABLE inputs_add_jobs (
        pk INTEGER PRIMARY KEY,
        app_pk INTEGER NOT NULL REFERENCES apps (pk) ON DELETE CASCADE,
        id TEXT NOT NULL,
        cancelled INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        modified_at REAL NOT NULL,
        UNIQUE (app_pk, id)
    )""",
    "ALTER TABLE inputs ADD COLUMN add_job_pk INTEGER",
    "CREATE INDEX inputs_by_add_job ON inputs (add_job_pk, status_code) "
    "WHERE add_job_pk IS NOT NULL",
)


#: Video inputs (issue #27): an input is an image or a video (``data.video``), a processed video
#: keeps its ``video_info`` (JSON, the proto's VideoInfo); an annotation a writer made on one
#: sampled frame keeps that frame's index and time (ms); an app keeps its ``sample_ms`` (0: the
#: platform's default, 1,000). ADD COLUMN with a constant default rewrites no row.
_V10: tuple[str, ...] = (
    "ALTER TABLE apps ADD COLUMN sample_ms INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE inputs ADD COLUMN kind TEXT NOT NULL DEFAULT 'image'",
    "ALTER TABLE inputs ADD COLUMN video_info TEXT",
    "ALTER TABLE annotations ADD COLUMN frame_index INTEGER",
    "ALTER TABLE annotations ADD COLUMN frame_time INTEGER",
)


MIGRATIONS: list[Migration] = [
    Migration(1, "apps, inputs, concepts, annotations, ingest queue", _V1),
    Migration(2, "models, model versions, workflows, embeddings", _V2),
    Migration(3, "small blobs inside the database", _V3),
    Migration(4, "embeddings in a rowid table (no overflow page per vector)", _V4),
    Migration(5, "the public app clarifai/main: its embedder and base workflows", (), _public),
    Migration(
        6,
        "apps without a default workflow get the base workflow Universal, as on the platform",
        (
            "UPDATE apps SET default_workflow_id = 'clarifai/main/Universal' "
            "WHERE default_workflow_id = '' AND user_id != 'clarifai'",
        ),
    ),
    Migration(
        7,
        "thresholder and writer configuration in versions; workflow nodes pin their versions",
        (),
        _versions_hold_configuration,
    ),
    Migration(
        8,
        "input counts per app and status, kept by triggers in the writing transaction",
        _V8,
    ),
    Migration(9, "inputs-add jobs: the inputs a PostInputs with inputs_add_job_id added", _V9),
    Migration(10, "video inputs, frame-level annotations and the apps' sample_ms", _V10),
]


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: sqlite3.Connection, migrations: list[Migration] | None = None) -> int:
    """Apply every migration newer than the database; returns the resulting version.

    ``conn`` must be in autocommit mode (``isolation_level=None``).
    """
    steps = sorted(migrations if migrations is not None else MIGRATIONS, key=lambda m: m.version)
    versions = [m.version for m in steps]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions in {versions}")
    version = current_version(conn)
    known = versions[-1] if versions else 0
    if version > known:
        raise RuntimeError(
            f"the database schema is version {version} but this clarifai-tui knows only up to "
            f"{known}: it was written by a newer clarifai-tui; upgrade clarifai-tui"
        )
    for step in steps:
        if step.version <= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in step.statements:
                conn.execute(statement)
            if step.apply is not None:
                step.apply(conn)
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (step.version, step.name, time.time()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version = step.version
    return version
