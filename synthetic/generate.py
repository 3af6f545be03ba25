"""generate_dataset: a complete synthetic Health Link input tree (registry, extracts, consent)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from faker import Faker

from synthetic import diagnosis_files, drug_files, encounter_files, observation_files
from synthetic.clinical import diagnosis_pools, principal_diagnoses, visit_focus
from synthetic.codes import load_code_sets
from synthetic.consent import build_registrations, write_registrations
from synthetic.errors import ERROR_KINDS, inject_errors
from synthetic.hospitals import build_hospitals, write_registry
from synthetic.layout import FILE_NAMES
from synthetic.patients import build_name_pool, build_patients
from synthetic.rows import FileRows, World
from synthetic.visits import build_admissions, build_visits
from synthetic.writer import write_file


def _builders(world: World) -> dict[str, Callable[[], FileRows]]:
    pools = diagnosis_pools(world.codes)
    focus = visit_focus(world)
    principal = principal_diagnoses(world, pools, focus)
    return {
        "PERSON": lambda: encounter_files.person(world),
        "SERVICE": lambda: encounter_files.service(world),
        "ADMISSION": lambda: encounter_files.admission(world),
        "DIAGNOSIS_OPD": lambda: diagnosis_files.diagnosis_opd(world, pools, principal),
        "DIAGNOSIS_IPD": lambda: diagnosis_files.diagnosis_ipd(world, pools, principal),
        "DRUG_OPD": lambda: drug_files.drug_opd(world),
        "DRUG_IPD": lambda: drug_files.drug_ipd(world),
        "PROCEDURE_OPD": lambda: diagnosis_files.procedure_opd(world, focus),
        "PROCEDURE_IPD": lambda: diagnosis_files.procedure_ipd(world, focus),
        "LABFU": lambda: observation_files.labfu(world),
        "EPI": lambda: observation_files.epi(world),
        "DRUGALLERGY": lambda: drug_files.drug_allergy(world),
        "NCDSCREEN": lambda: observation_files.ncdscreen(world),
        "IMAGING": lambda: observation_files.imaging(world),
    }


def _build_world(start_date: date, seed: int, hospitals: int, patients: int, days: int,
                 history_years: int, visits_per_patient: float, quirks: dict[str, int],
                 seeds_dir: Path | None, hospital_sizes: np.ndarray | None,
                 full_consent: bool) -> World:
    def rng(part: int) -> np.random.Generator:
        return np.random.default_rng([seed, part])

    fake = Faker("th_TH")
    fake.seed_instance(seed)
    names = build_name_pool(fake)
    hosp = build_hospitals(rng(1), fake, hospitals, start_date, quirks)
    people, memberships = build_patients(rng(2), names, patients, hospitals, start_date,
                                         home_weights=hospital_sizes,
                                         registrable_only=full_consent)
    visits = build_visits(rng(3), people, memberships, start_date, days, history_years,
                          visits_per_patient)
    return World(
        start=start_date, seed=seed, hospitals=hosp, patients=people, memberships=memberships,
        visits=visits, admissions=build_admissions(rng(4), visits, start_date),
        codes=load_code_sets(seeds_dir), names=names,
    )


def generate_dataset(
    out_dir: Path,
    *,
    hospitals: int = 5,
    patients: int = 1000,
    days: int = 2,
    start_date: date,
    seed: int = 42,
    tis620_hospitals: int = 1,
    buddhist_era_hospitals: int = 1,
    headerless_hospitals: int = 1,
    error_rate: float = 0.0,
    visits_per_patient: float = 6.0,
    history_years: int = 2,
    seeds_dir: Path | None = None,
    hospital_sizes: Sequence[float] | None = None,
    full_consent: bool = False,
) -> dict[str, Any]:
    """Write registry/, extracts/<HCODE>/<YYYY-MM-DD>/<FILE>.txt, consent/registrations.csv
    and manifest.json under out_dir; return the manifest (counts only, no personal data).

    The first extract day holds each hospital's full history; later days hold that day's
    visits. The same arguments always produce byte-identical files.
    `hospital_sizes`: one relative weight per hospital, its share of the patients who call it
    home (uniform when None). `full_consent`: every patient is an adult Thai card holder and
    registers, active, sending from ALL hospitals, so the consent filter drops nothing."""
    if patients < 1 or days < 1 or history_years < 0 or not 0 <= error_rate < 1:
        raise ValueError("patients and days must be >= 1, history_years >= 0, 0 <= error_rate < 1")
    sizes = None if hospital_sizes is None else np.asarray(hospital_sizes, dtype=float)
    if sizes is not None and (sizes.shape != (hospitals,) or (sizes <= 0).any()):
        raise ValueError("hospital_sizes needs one positive weight per hospital")
    out_dir = Path(out_dir)
    quirks = {"tis620": tis620_hospitals, "buddhist": buddhist_era_hospitals,
              "headerless": headerless_hospitals}
    world = _build_world(start_date, seed, hospitals, patients, days, history_years,
                         visits_per_patient, quirks, seeds_dir, sizes, full_consent)
    write_registry(out_dir, world.hospitals)

    codes = world.hospitals.codes
    day_names = [(start_date + timedelta(days=d)).isoformat() for d in range(days)]
    files: dict[str, dict[str, dict[str, int]]] = {c: {d: {} for d in day_names} for c in codes}
    errors: dict[str, dict[str, dict[str, dict[str, int]]]] = {}
    error_totals: Counter = Counter({k: 0 for k in ERROR_KINDS})
    builders = _builders(world)
    for name in FILE_NAMES:
        rows = builders[name]()
        spoiled = inject_errors(rows, world.rng(f"errors/{name}"), error_rate, days, start_date,
                                world.hospitals.buddhist)
        counts = write_file(out_dir, rows, world.hospitals, world.patients.cid, start_date, days)
        for (h, d), count in counts.items():
            files[codes[h]][day_names[d]][name] = count
        for (h, d), kinds in spoiled.items():
            errors.setdefault(codes[h], {}).setdefault(day_names[d], {})[name] = dict(kinds)
            error_totals.update(kinds)
        del rows

    registrations = build_registrations(np.random.default_rng([seed, 5]), world.patients,
                                        world.memberships, world.hospitals, start_date,
                                        everyone=full_consent)
    write_registrations(out_dir, registrations)
    manifest = _manifest(world, files, errors, error_totals, registrations, parameters={
        "hospitals": hospitals, "patients": patients, "days": days,
        "start_date": start_date.isoformat(), "seed": seed, "tis620_hospitals": tis620_hospitals,
        "buddhist_era_hospitals": buddhist_era_hospitals,
        "headerless_hospitals": headerless_hospitals, "error_rate": error_rate,
        "visits_per_patient": visits_per_patient, "history_years": history_years,
        "hospital_sizes": "uniform" if sizes is None else "weighted",
        "full_consent": full_consent,
    })
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def _manifest(world: World, files: dict, errors: dict, error_totals: Counter,
              registrations: pa.Table, parameters: dict[str, Any]) -> dict[str, Any]:
    h = world.hospitals
    rows_per_file: Counter[str] = Counter()
    for per_day in files.values():
        for per_file in per_day.values():
            rows_per_file.update(per_file)
    status = Counter(registrations.column("status").to_pylist())
    scope = Counter(registrations.column("sender_scope").to_pylist())
    sensitive = Counter(registrations.column("sensitive_allowed").to_pylist())
    return {
        "parameters": parameters,
        "hospitals": [
            {"hospital_code": code, "network": h.networks[int(h.network[i])].code,
             "encoding": h.encoding[i],
             "date_era": "buddhist" if h.buddhist[i] else "gregorian",
             "header": bool(h.header[i])}
            for i, code in enumerate(h.codes)
        ],
        "totals": {
            "patients": len(world.patients),
            "hospital_memberships": len(world.memberships),
            "visits": len(world.visits),
            "admissions": len(world.admissions),
            "data_rows": sum(rows_per_file.values()),
            "rows_per_file": {name: rows_per_file[name] for name in FILE_NAMES},
        },
        "files": files,
        "errors": {"totals": dict(error_totals), "by_file": errors},
        "consent": {
            "registrations": registrations.num_rows,
            "active": status["active"], "withdrawn": status["withdrawn"],
            "scope_all": scope["ALL"], "scope_list": scope["LIST"],
            "sensitive_allowed": sensitive["true"],
        },
    }
