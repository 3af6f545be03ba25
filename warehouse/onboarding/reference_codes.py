"""Code coverage: the share of coded rows whose code the dbt reference seeds know, per code
system (the contract's `code_system`: null for the entity's native Thai system).

The seeds themselves (dbt_project/reference_codes, or an operator's fuller lists) are the
reference sets; this module only reads their code columns. Which contract column is looked up
in which seed follows the categories' coding (dbt_project/macros/coded_categories.sql, and
models/intermediate/int_immunization__coded.sql), which joins the same pairs: a native code in its Thai list, a code of another system (SNOMED
CT, RxNorm, LOINC...) in code_crosswalk by (source_system, source_code), a CVX vaccine in
vaccine_codes.cvx_code. A hospital's `local` codes mean nothing elsewhere: not looked up.
Codes of code systems are not personal data, so the unknown ones are named with counts;
only rows that passed validation are counted, so every code shown has its system's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

# The project's own lists; HEALTHLINK_REFERENCE_CODES_DIR (Settings.reference_codes_dir)
# names an operator's fuller ones, which dbt loads as the same seeds (dbt_project.yml).
DBT_PROJECT: Final = Path(__file__).resolve().parents[2] / "dbt_project"
DEFAULT_DIR: Final = DBT_PROJECT / "reference_codes"


def reference_folder(configured: Path | None) -> Path:
    """Where dbt loads the code lists from: Settings.reference_codes_dir is relative to the
    dbt project, as dbt_project.yml's seed-paths reads it."""
    return DBT_PROJECT / configured if configured is not None else DEFAULT_DIR


TOP_UNKNOWN: Final = 10


@dataclass(frozen=True)
class ReferenceSet:
    seed: str  # dbt seed name (a CSV of the reference code folder)
    seed_column: str
    entity: str
    column: str  # the coded contract column


REFERENCE_SETS: Final = (
    ReferenceSet("icd10_tm", "code", "diagnosis", "icd10_code"),
    ReferenceSet("drug_codes", "drug_code", "medication_dispense", "drug_code"),
    ReferenceSet("drug_codes", "drug_code", "allergy", "drug_code"),
    ReferenceSet("lab_codes", "lab_code", "lab_result", "lab_code"),
    ReferenceSet("vaccine_codes", "vaccine_code", "immunization", "vaccine_code"),
    ReferenceSet("procedure_codes", "procedure_code", "procedure", "procedure_code"),
)


@dataclass(frozen=True)
class Coverage:
    reference: str  # seed name
    entity: str
    column: str
    coded_rows: int
    known_rows: int | None  # None: not looked up (a hospital's local codes)
    top_unknown: list[tuple[str, int]]  # (code, rows), most rows first
    code_system: str | None = None  # None: the entity's native Thai system (contract)

    @property
    def share_known(self) -> float | None:
        if self.known_rows is None or not self.coded_rows:
            return None
        return self.known_rows / self.coded_rows

    def to_dict(self) -> dict[str, object]:
        share = self.share_known
        return {
            "reference": self.reference,
            "entity": self.entity,
            "column": self.column,
            "code_system": self.code_system,
            "coded_rows": self.coded_rows,
            "known_rows": self.known_rows,
            "share_known": None if share is None else round(share, 4),
            "top_unknown": [{"code": code, "rows": rows} for code, rows in self.top_unknown],
        }


class ReferenceCodesMissing(FileNotFoundError):
    """The reference code folder lacks a list (dbt would lack the seed as well)."""


CROSSWALK: Final = "code_crosswalk"
# Codes of other systems a coded model looks up elsewhere than the crosswalk: (entity,
# contract code_system) -> (seed, column), as int_immunization__coded joins them.
OTHER_SYSTEM_LISTS: Final = {("immunization", "cvx"): ("vaccine_codes", "cvx_code")}
LOCAL: Final = "local"  # connectors.fhir_bulk.code_systems.LOCAL


def _read(folder: Path, seed: str, columns: list[str]) -> pa.Table:
    path = folder / f"{seed}.csv"
    if not path.is_file():
        needed = " (dbt's build needs it too)" if seed == CROSSWALK else ""
        raise ReferenceCodesMissing(
            f"{path}: missing{needed}; a reference code folder holds every list: copy the "
            f"project's {DEFAULT_DIR.name}/{path.name} and extend it"
        )
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            include_columns=columns, column_types={name: pa.string() for name in columns}
        ),
    )


@cache
def known_codes(seed: str, column: str, folder: Path = DEFAULT_DIR) -> pa.Array:
    return pc.unique(_read(folder, seed, [column]).column(column).combine_chunks())


@cache
def crosswalk_codes(system: str, folder: Path = DEFAULT_DIR) -> pa.Array:
    """The codes of `system` (a contract code_system) that code_crosswalk maps."""
    table = _read(folder, CROSSWALK, ["source_system", "source_code"])
    mapped = table.filter(pc.equal(table.column("source_system"), system))
    return pc.unique(mapped.column("source_code").combine_chunks())


def _other_system_list(entity: str, system: str, folder: Path) -> tuple[str, pa.Array | None]:
    """(reference name, known codes) for a code of another system; None: not looked up."""
    if (entity, system) in OTHER_SYSTEM_LISTS:
        seed, column = OTHER_SYSTEM_LISTS[(entity, system)]
        return seed, known_codes(seed, column, folder)
    if system == LOCAL or entity == "immunization":  # the vaccine model joins no crosswalk
        return CROSSWALK, None
    return CROSSWALK, crosswalk_codes(system, folder)


def coverage(tables: dict[str, pa.Table], folder: Path = DEFAULT_DIR) -> list[Coverage]:
    """Coverage per reference set and code system over the given canonical tables (entity
    -> table). Rows in the entity's native Thai system (`code_system` null, or no such
    column) are looked up in the reference set, as the coded models join them; rows in
    another system are counted per system and looked up where the coded models look them
    up (code_crosswalk, or vaccine_codes for CVX), a hospital's `local` codes not at all.
    Raises ReferenceCodesMissing when the folder lacks a list, the crosswalk included."""
    crosswalk_codes(LOCAL, folder)  # every folder needs it, as dbt's build does
    found = []
    for reference in REFERENCE_SETS:
        table = tables.get(reference.entity)
        if table is None:
            continue
        systems = table.column("code_system") if "code_system" in table.column_names else None
        native = table if systems is None else table.filter(pc.is_null(systems))
        codes = native.column(reference.column).drop_null()
        known = pc.is_in(
            codes, value_set=known_codes(reference.seed, reference.seed_column, folder)
        )
        unknown = codes.filter(pc.invert(known))
        found.append(
            Coverage(
                reference.seed,
                reference.entity,
                reference.column,
                coded_rows=len(codes),
                known_rows=len(codes) - len(unknown),
                top_unknown=_most_frequent(unknown),
            )
        )
        other_systems = [] if systems is None else pc.unique(systems.drop_null()).to_pylist()
        for system in sorted(other_systems):
            other = table.filter(pc.equal(systems, system)).column(reference.column).drop_null()
            name, known_other = _other_system_list(reference.entity, system, folder)
            unknown_other = (
                other
                if known_other is None
                else other.filter(pc.invert(pc.is_in(other, value_set=known_other)))
            )
            found.append(
                Coverage(
                    name,
                    reference.entity,
                    reference.column,
                    coded_rows=len(other),
                    known_rows=None if known_other is None else len(other) - len(unknown_other),
                    top_unknown=_most_frequent(unknown_other),
                    code_system=system,
                )
            )
    return found


def _most_frequent(codes: pa.Array | pa.ChunkedArray) -> list[tuple[str, int]]:
    """The TOP_UNKNOWN most frequent codes with their row counts (codes are not personal)."""
    counted = pc.value_counts(codes) if len(codes) else pa.array([], pa.struct([]))
    return sorted(
        ((item["values"].as_py(), item["counts"].as_py()) for item in counted),
        key=lambda pair: (-pair[1], pair[0]),
    )[:TOP_UNKNOWN]
