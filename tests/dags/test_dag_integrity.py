from __future__ import annotations

from pathlib import Path

from tests.dags.airflow_harness import airflow_environment, ensure_manifest, parse_dagbag


def test_dag_parses_with_expected_shape(tmp_path: Path) -> None:
    ensure_manifest()
    env = airflow_environment(tmp_path / "airflow", tmp_path / "home", tmp_path / "registry")
    bag = parse_dagbag(env)
    assert bag["import_errors"] == {}
    assert bag["dag_ids"] == ["healthlink_daily_sync"]
    assert {"healthlink", "daily-sync"} <= set(bag["tags"])  # type: ignore[arg-type]
    tasks = set(bag["tasks"])  # type: ignore[arg-type]
    assert {
        "resolve_extract_date",
        "list_participating_hospitals",
        "sync_hospital",
        "hospitals_done",
        "publish_and_summarize",
    } <= tasks
    assert any(t.startswith("dbt.") for t in tasks), "cosmos rendered no dbt tasks"
    assert bag["timezone"] == "Asia/Bangkok"
    # hospital tasks are not retried blindly: a quarantine is a success, an error is real
    assert bag["retries"]["sync_hospital"] == 0  # type: ignore[index]
