"""Input counts per app and status (issue #24): kept by triggers in the writing transaction,
so GetInputCount reads a row per status instead of counting an app, and a count never
disagrees with the inputs (kill -9 during ingest: tests/faults/test_kill_ingest.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from api.local.migrations import MIGRATIONS, migrate
from api.local.store import Store


def counted(conn: sqlite3.Connection, app_pk: int) -> dict[int, int]:
    return dict(
        conn.execute(
            "SELECT status_code, n FROM input_counts WHERE app_pk = ? AND n != 0", (app_pk,)
        ).fetchall()
    )


def actual(conn: sqlite3.Connection, app_pk: int) -> dict[int, int]:
    return dict(
        conn.execute(
            "SELECT status_code, COUNT(*) FROM inputs WHERE app_pk = ? GROUP BY status_code",
            (app_pk,),
        ).fetchall()
    )


def test_migration_counts_what_is_there_and_triggers_follow_every_write(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "clarifai-tui.sqlite3", isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    assert migrate(conn, MIGRATIONS[:7]) == 7
    for pk in (100, 200):
        conn.execute(
            "INSERT INTO apps (pk, user_id, id, created_at, modified_at) VALUES (?, 'me', ?, 0, 0)",
            (pk, f"app{pk}"),
        )
    for n in range(30):
        conn.execute(
            "INSERT INTO inputs (app_pk, id, status_code, created_at, modified_at) "
            "VALUES (?, ?, ?, 0, 0)",
            (100 if n % 3 else 200, f"in-{n}", (30000, 30001, 30002)[n % 3]),
        )
    before = {pk: actual(conn, pk) for pk in (100, 200)}
    assert migrate(conn) == len(MIGRATIONS)
    assert {pk: counted(conn, pk) for pk in (100, 200)} == before

    # every kind of write keeps them exact
    conn.execute("UPDATE inputs SET status_code = 30000 WHERE status_code = 30001")
    conn.execute("DELETE FROM inputs WHERE id IN ('in-2', 'in-5')")
    conn.execute(
        "INSERT INTO inputs (app_pk, id, status_code, created_at, modified_at) "
        "VALUES (100, 'late', 30001, 0, 0)"
    )
    conn.execute("UPDATE inputs SET metadata = '{\"a\": 1}'")  # no status change: no effect
    for pk in (100, 200):
        assert counted(conn, pk) == actual(conn, pk)
    conn.execute("DELETE FROM apps WHERE pk = 200")  # cascades to its inputs
    assert counted(conn, 200) == {} and actual(conn, 200) == {}
    assert conn.execute("SELECT COUNT(*) FROM input_counts WHERE app_pk = 200").fetchone()[0] == 0
    conn.close()

    store = Store(tmp_path)
    store.open()
    try:
        counts = store.count_inputs(100)
        assert (counts.processed, counts.to_process, counts.errors) == (10, 1, 8)
    finally:
        store.close()


def test_cancelling_an_add_job_stops_its_unprocessed_inputs(tmp_path: Path) -> None:
    """CancelInputsAddJob (issue #28): the job's pending inputs leave the ingest queue and end
    failed with the reason; inputs of other calls are untouched; the counts follow."""
    from api.local.rows import AppPatch, NewInput

    store = Store(tmp_path)
    store.open()
    try:
        (app,) = store.create_apps("me", [AppPatch("a")])
        store.add_inputs(
            app.pk, "me", [NewInput(f"j{n}", source_url="https://x/") for n in range(3)], "job"
        )
        store.add_inputs(app.pk, "me", [NewInput("other", source_url="https://x/")])
        assert store.job_count() == 4
        job = store.cancel_add_job(app.pk, "job")
        assert job is not None and job.cancelled
        assert (job.pending, job.failed) == (0, 3)
        assert store.job_count() == 1
        rows = {r.id: r for r in store.list_inputs(app.pk, 10, 0)}
        assert {rows[f"j{n}"].status_code for n in range(3)} == {30002}
        assert "cancelled" in rows["j0"].status_description.lower()
        assert rows["other"].status_code == 30001
        counts = store.count_inputs(app.pk)
        assert (counts.to_process, counts.errors) == (1, 3)
        assert store.cancel_add_job(app.pk, "nope") is None
    finally:
        store.close()
