"""An operator's fuller reference code lists (HEALTHLINK_REFERENCE_CODES_DIR) replace the
project's without a code change: dbt loads them as the same seeds, so the warehouse's unmapped
counts (marts.rpt_unmapped_codes) change, and `extract check` measures coverage against them.
Real commands in subprocesses (dbt-duckdb keeps its file open for its process's life)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.support.cli_warehouse import HEALTHLINK
from tests.support.onboarding import DAY, Folder, Onboarding
from warehouse.onboarding.reference_codes import DBT_PROJECT, DEFAULT_DIR

UNKNOWN = "U999"  # well formed, in none of the project's lists


@pytest.fixture(scope="module")
def fuller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The project's lists, ICD-10-TM with one more code (same columns), linked into the dbt
    project as a deployment would: (the setting, relative to dbt_project; the real folder)."""
    folder = tmp_path_factory.mktemp("operator_codes")
    for path in DEFAULT_DIR.glob("*.csv"):
        shutil.copy(path, folder / path.name)
    with (folder / "icd10_tm.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"{UNKNOWN},Code of the operator's fuller list,รหัสจากรายการที่ครบกว่า\n")
    link = Path(f"operator_reference_codes_{uuid.uuid4().hex[:12]}")  # .gitignore'd
    (DBT_PROJECT / link).symlink_to(folder, target_is_directory=True)
    yield link, folder
    (DBT_PROJECT / link).unlink()


@pytest.fixture(scope="module")
def planted(onboarding: Onboarding, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A day folder of the plain hospital whose first diagnoses carry UNKNOWN."""
    code = onboarding.code_where(encoding="utf-8", header=True, date_era="gregorian")
    folder = tmp_path_factory.mktemp("planted") / code / DAY.isoformat()
    shutil.copytree(onboarding.extract(code), folder)
    lines = Folder(folder).lines("DIAGNOSIS_OPD")
    Folder(folder).set_field(
        "DIAGNOSIS_OPD", list(range(2, min(len(lines), 60))), "DIAGCODE", UNKNOWN
    )
    return code, folder


def healthlink(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(HEALTHLINK), *args], env=env, capture_output=True, text=True, timeout=1200, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def environment(home: Path, onboarding: Onboarding, reference: Path | None) -> dict[str, str]:
    """`reference`: HEALTHLINK_REFERENCE_CODES_DIR (relative to dbt_project), None unset."""
    env = {**os.environ, "HEALTHLINK_HOME": str(home)}
    env["HEALTHLINK_REGISTRY_DIR"] = str(onboarding.registry)
    env.pop("HEALTHLINK_REFERENCE_CODES_DIR", None)
    if reference is not None:
        env["HEALTHLINK_REFERENCE_CODES_DIR"] = str(reference)
    return env


def unmapped_icd10(
    onboarding: Onboarding, planted: tuple[str, Path], home: Path, reference: Path | None
) -> tuple[int, int]:
    """(coded rows, unmapped rows) of ICD-10 after an ingest and a dbt build."""
    code, folder = planted
    env = environment(home, onboarding, reference)
    consent = onboarding.root / "consent" / "registrations.csv"
    assert healthlink(env, "consent", "import", str(consent)).returncode in (0, 1)
    ingest = healthlink(
        env, "ingest", "--hospital", code, "--date", DAY.isoformat(), "--extract-dir", str(folder)
    )
    assert ingest.returncode == 0, ingest.stdout
    built = healthlink(env, "transform")
    assert built.returncode == 0, built.stdout[-3000:]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        row = conn.execute(
            "SELECT sum(coded_rows), sum(unmapped_rows) FROM marts.rpt_unmapped_codes "
            "WHERE code_system = 'icd10'"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_a_fuller_list_changes_the_unmapped_counts(
    onboarding: Onboarding, planted: tuple[str, Path], fuller: tuple[Path, Path], tmp_path: Path
) -> None:
    setting, folder = fuller
    lists = {path.name: path.read_bytes() for path in folder.iterdir()}

    coded, unmapped = unmapped_icd10(onboarding, planted, tmp_path / "project_lists", None)
    coded_fuller, unmapped_fuller = unmapped_icd10(
        onboarding, planted, tmp_path / "operator_lists", setting
    )

    assert coded == coded_fuller > 0
    assert unmapped > 0  # the planted rows that passed consent and validation
    assert unmapped_fuller == 0
    # dbt read the lists and wrote nothing over them (it would over an absolute seed path)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == lists


def test_extract_check_measures_coverage_against_the_same_lists(
    onboarding: Onboarding, planted: tuple[str, Path], fuller: tuple[Path, Path], tmp_path: Path
) -> None:
    def icd10(reference: Path | None) -> dict:
        env = environment(tmp_path, onboarding, reference)
        done = healthlink(env, "extract", "check", str(planted[1]), "--json")
        report = json.loads(done.stdout)
        return next(c for c in report["coverage"] if c["reference"] == "icd10_tm")

    project, operator = icd10(None), icd10(fuller[0])

    assert UNKNOWN in {u["code"] for u in project["top_unknown"]}
    assert operator["top_unknown"] == []
    assert operator["known_rows"] == operator["coded_rows"] == project["coded_rows"]


def test_a_folder_outside_the_dbt_project_or_incomplete_is_refused(
    onboarding: Onboarding, planted: tuple[str, Path], fuller: tuple[Path, Path], tmp_path: Path
) -> None:
    setting, folder = fuller
    outside = environment(tmp_path, onboarding, None)
    outside["HEALTHLINK_REFERENCE_CODES_DIR"] = str(folder)  # absolute: dbt would overwrite it
    incomplete = DBT_PROJECT / f"{setting}_incomplete"
    incomplete.symlink_to(tmp_path / "incomplete", target_is_directory=True)
    shutil.copytree(folder, tmp_path / "incomplete")
    (tmp_path / "incomplete" / "lab_codes.csv").unlink()
    try:
        refused = subprocess.run(
            [str(HEALTHLINK), "extract", "check", str(planted[1])],
            env=outside,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        missing = healthlink(
            environment(tmp_path, onboarding, Path(incomplete.name)),
            "extract",
            "check",
            str(planted[1]),
        )
    finally:
        incomplete.unlink()

    assert refused.returncode != 0
    said = " ".join((refused.stderr + refused.stdout).split())  # rich wraps long lines
    assert "must be a folder inside dbt_project/" in said
    assert missing.returncode == 2 and "lab_codes.csv: missing" in missing.stdout
