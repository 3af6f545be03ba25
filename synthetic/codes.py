"""Code lists the generator draws from, read at run time from the dbt reference seeds."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_SEEDS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"
# The project's own reference code lists (an operator's fuller ones live elsewhere, for dbt;
# the generator always draws from these).
DEFAULT_REFERENCE_DIR = DEFAULT_SEEDS_DIR.parent / "reference_codes"


def _rows(seeds_dir: Path, name: str) -> list[dict[str, str]]:
    path = seeds_dir / name
    if not path.exists():
        raise FileNotFoundError(f"reference seed missing: {path}")
    with path.open(encoding="utf-8", newline="") as handle:
        # No code or name may contain the extract delimiter.
        return [
            {k: (v or "").strip().replace("|", "/") for k, v in row.items()}
            for row in csv.DictReader(handle)
        ]


VISIBLE = "visible"


def _category(value: str, prefixes: list[tuple[str, str]]) -> str:
    """The sensitivity category of a classified value (the same rule as the dbt macro
    code_class): the longest matching prefix wins; "" when visible or unclassified."""
    best = ""
    category = ""
    for prefix, cat in prefixes:
        if value.startswith(prefix) and len(prefix) > len(best):
            best, category = prefix, cat
    return "" if category == VISIBLE else category


@dataclass(frozen=True)
class CodeList:
    codes: list[str]
    names: list[str]
    category: list[str]  # sensitivity category, "" when not sensitive

    def in_category(self, category: str) -> np.ndarray:
        return np.array([i for i, c in enumerate(self.category) if c == category], np.int64)

    def starting(self, *prefixes: str) -> np.ndarray:
        """Non-sensitive codes with one of the prefixes."""
        found = [i for i, c in enumerate(self.codes)
                 if c.startswith(prefixes) and not self.category[i]]
        return np.array(found, np.int64)

    def general(self) -> np.ndarray:
        return np.array([i for i, c in enumerate(self.category) if not c], np.int64)


@dataclass(frozen=True)
class CodeSets:
    icd10: CodeList
    drugs: CodeList
    drug_atc: list[str]
    labs: CodeList
    lab_low: np.ndarray
    lab_high: np.ndarray  # NaN for qualitative tests
    lab_units: list[str]
    vaccines: CodeList
    procedures: CodeList


def _code_list(rows: list[dict[str, str]], code: str, name: str, system: str,
               prefixes: dict[str, list[tuple[str, str]]], classified_by: str = "") -> CodeList:
    """classified_by: the column whose value the classes apply to (a drug's ATC code, a
    lab's tests_for); the code itself when empty."""
    return CodeList(
        codes=[r[code] for r in rows],
        names=[r[name] for r in rows],
        category=[_category(r[classified_by or code], prefixes.get(system, [])) for r in rows],
    )


def _bound(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def load_code_sets(seeds_dir: Path | None = None) -> CodeSets:
    """`seeds_dir`: one folder holding every seed; default the project's seeds/ (value sets)
    and reference_codes/ (code lists)."""
    classes_dir = Path(seeds_dir) if seeds_dir else DEFAULT_SEEDS_DIR
    seeds_dir = Path(seeds_dir) if seeds_dir else DEFAULT_REFERENCE_DIR
    prefixes: dict[str, list[tuple[str, str]]] = {}
    for row in _rows(classes_dir, "sensitivity_classes.csv"):
        prefixes.setdefault(row["code_system"], []).append(
            (row["code_prefix"], row["sensitivity_category"])
        )
    drug_rows = _rows(seeds_dir, "drug_codes.csv")
    lab_rows = _rows(seeds_dir, "lab_codes.csv")
    return CodeSets(
        icd10=_code_list(_rows(seeds_dir, "icd10_tm.csv"), "code", "name_en", "icd10", prefixes),
        drugs=_code_list(drug_rows, "drug_code", "drug_name", "atc", prefixes, "atc_code"),
        drug_atc=[r["atc_code"] for r in drug_rows],
        labs=_code_list(lab_rows, "lab_code", "lab_name", "lab_test", prefixes, "tests_for"),
        lab_low=np.array([_bound(r["low"]) for r in lab_rows]),
        lab_high=np.array([_bound(r["high"]) for r in lab_rows]),
        lab_units=[r["unit"] for r in lab_rows],
        vaccines=_code_list(
            _rows(seeds_dir, "vaccine_codes.csv"), "vaccine_code", "vaccine_name", "vaccine", {}
        ),
        procedures=_code_list(
            _rows(seeds_dir, "procedure_codes.csv"), "procedure_code", "procedure_name",
            "icd9cm_procedure", prefixes,
        ),
    )
