"""Running the dbt project (staging → marts → published) and publishing its result."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from warehouse.pipeline import ops
from warehouse.settings import Settings, get_settings
from warehouse.storage.connection import connect, warehouse_lock
from warehouse.storage.schema import setup_warehouse

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"


class TransformError(RuntimeError):
    pass


def dbt_environment(settings: Settings) -> dict[str, str]:
    """Environment the dbt profile reads (dbt_project/profiles.yml), and where the reference
    code lists are (dbt_project.yml seed-paths) when an operator has fuller ones."""
    reference = settings.reference_codes_dir
    return {
        **settings.dbt_environment(),
        **({"HEALTHLINK_REFERENCE_CODES_DIR": str(reference)} if reference else {}),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DO_NOT_TRACK": "1",
    }


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def invoke_dbt(
    args: list[str],
    environment: dict[str, str],
    *,
    work_dir: Path | None = None,
    quiet: bool = False,
) -> Any:
    """dbt in-process with the profile's environment set only for the call (telemetry off).

    `work_dir`: where target/ and logs/ go instead of the project's own (tests and parallel
    builds must not share them). Returns dbt's result; the caller decides what failure means.
    """
    from dbt.cli.main import dbtRunner  # heavy import, only when transforming

    values = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1", **environment}
    paths = (
        ["--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs")]
        if work_dir is not None
        else []
    )
    with _environment(values):
        return dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
                *paths,
                *(["--quiet"] if quiet else []),
            ]
        )


def run_dbt(args: list[str], settings: Settings | None = None) -> None:
    """Invoke dbt in-process (on DuckDB, holding the writer lock for the whole run)."""
    settings = settings or get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    setup_warehouse(settings)  # raw/consent/ops in place before dbt reads them as sources
    writer_lock: AbstractContextManager[object] = (
        nullcontext() if settings.uses_postgres else warehouse_lock(settings)
    )
    with writer_lock:
        result = invoke_dbt(args, dbt_environment(settings))
    if args and args[0] in ("build", "test") and hasattr(result.result, "write"):
        # Failed tests are what operations most need to see: recorded whatever the outcome.
        # The invocation's own run_results.json, written apart: the project's target/ is
        # shared by every dbt process on the machine.
        with tempfile.TemporaryDirectory() as target_dir:
            result.result.write(str(Path(target_dir) / "run_results.json"))
            record_test_results(Path(target_dir), settings)
    if not result.success:
        raise TransformError(f"dbt {' '.join(args)} failed (see the dbt log above)")


def record_test_results(target_dir: Path, settings: Settings | None = None) -> int:
    """The tests of the dbt invocation whose results are in `target_dir` (run_results.json,
    since dbt packages that would store them cannot be installed offline) into
    ops.dbt_test_result. Returns how many were recorded (0 without a results file)."""
    results_path = target_dir / "run_results.json"
    if not results_path.is_file():
        return 0
    run_results = json.loads(results_path.read_text(encoding="utf-8"))
    with connect(settings) as conn:
        return ops.record_dbt_tests(conn, run_results)


def record_project_test_results(
    project_dir: str, settings: Settings | None = None, **_context: Any
) -> int:
    """cosmos's callback after each dbt task of the DAG (called with the task's own copy of
    the project and `context`): the tests in its target/run_results.json (a task that ran no
    test records nothing)."""
    return record_test_results(Path(project_dir) / "target", settings)


def publish(settings: Settings | None = None) -> int:
    """After a successful build: the pending (hospital, day) pairs are now in the marts.

    The published views read the live consent tables, so nothing else needs refreshing.
    Returns how many pairs were published.
    """
    with connect(settings) as conn:
        published = conn.execute("DELETE FROM ops.transform_pending RETURNING hospital_code")
        return len(published.fetchall())


def transform(settings: Settings | None = None) -> int:
    run_dbt(["build"], settings)
    return publish(settings)
