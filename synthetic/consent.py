"""Consent registrations as the citizen app would deliver them (adults only).

Every row passes the consent service's rules on its own registration time: the person is
18 or over on that Bangkok day and every named hospital participates by then
(`healthlink consent import` replays each row through those rules). Times are UTC.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from synthetic import fmt
from synthetic.hospitals import Hospitals
from synthetic.patients import THAI_CARD_CATEGORIES, Memberships, Patients

COLUMNS = ["cid", "birth_date", "registered_at", "status", "sender_scope", "sender_networks",
           "sender_hospitals", "sensitive_allowed", "verification_method", "verified_at"]
# Midnight in Bangkok is 17:00 UTC the day before.
BANGKOK_MIDNIGHT = np.timedelta64(-7 * 3600, "s")
VERIFICATION_METHODS = ["dopa_face", "thaid"]
MASKED_NETWORKS = 12  # up to 2^12 subsets rendered up front


def _iso(moments: np.ndarray) -> pa.Array:
    return pc.strftime(pa.array(moments.astype("datetime64[s]")), format="%Y-%m-%dT%H:%M:%S")


def _network_lists(rng: np.random.Generator, hospitals: Hospitals, home: np.ndarray) -> pa.Array:
    k = len(hospitals.networks)
    chosen = rng.random((len(home), k)) < 0.3
    home_network = hospitals.network[home]
    chosen[np.arange(len(home)), home_network] |= rng.random(len(home)) < 0.8
    empty = ~chosen.any(axis=1)
    chosen[np.flatnonzero(empty), home_network[empty]] = True
    if k > MASKED_NETWORKS:
        # A national registry (dozens of networks): 2^k subsets cannot be listed; render
        # each distinct choice once instead.
        distinct, row_choice = np.unique(chosen, axis=0, return_inverse=True)
        codes = np.array([n.code for n in hospitals.networks], dtype=object)
        return fmt.pick([";".join(codes[row]) for row in distinct], row_choice.ravel())
    # Few networks: render each subset once and look it up by its bit mask.
    mask = chosen.astype(np.int64) @ (1 << np.arange(k))
    texts = [";".join(n.code for i, n in enumerate(hospitals.networks) if m >> i & 1)
             for m in range(1 << k)]
    return fmt.pick(texts, mask)


def _hospital_lists(rng: np.random.Generator, hospitals: Hospitals, memberships: Memberships,
                    slots: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """The ';'-joined hospital lists and, per row, the day its latest hospital joined."""
    parts = []
    since = np.array(hospitals.participating_since, dtype="datetime64[D]")
    latest = np.full(len(slots), np.datetime64("1900-01-01"), dtype="datetime64[D]")
    for j in range(slots.shape[1]):
        used = (slots[:, j] >= 0) & ((j == 0) | (rng.random(len(slots)) < 0.5))
        hosp = memberships.hosp[np.maximum(slots[:, j], 0)]
        codes = fmt.pick(hospitals.codes, hosp)
        parts.append(pc.if_else(pa.array(used), codes, pa.scalar(None, pa.string())))
        latest = np.where(used, np.maximum(latest, since[hosp]), latest)
    return pc.binary_join_element_wise(*parts, ";", null_handling="skip"), latest


def _eighteenth_birthday(birth: np.ndarray) -> np.ndarray:
    """birth + 18 years (29 February gives 1 March), as datetime64[D]."""
    month = birth.astype("datetime64[M]")
    return (month + np.timedelta64(18 * 12, "M")).astype("datetime64[D]") + (
        birth.astype("datetime64[D]") - month.astype("datetime64[D]"))


def build_registrations(rng: np.random.Generator, patients: Patients, memberships: Memberships,
                        hospitals: Hospitals, start: date, everyone: bool = False) -> pa.Table:
    """~85% of adults holding a Thai ID card register; of those ~60% send from ALL hospitals,
    ~40% from a LIST. Non-Thai residents (ID categories 6 and 7) have data in the extracts
    but cannot register (the consent service's rule). `everyone`: every adult card holder
    registers, active, sending from ALL hospitals (full consent)."""
    thai_card = np.isin(patients.cid // 10**12, THAI_CARD_CATEGORIES)
    registers = (rng.random(len(patients)) < 0.85) | everyone
    who = np.flatnonzero((patients.age >= 18) & registers & thai_card)
    n = len(who)
    registered = np.datetime64(start, "D").astype("datetime64[s]") - rng.integers(
        3600, 365 * 86_400, n).astype("timedelta64[s]")
    verification_delay = rng.integers(60, 1800, n).astype("timedelta64[s]")
    listed = (rng.random(n) >= 0.6) & (not everyone)
    mode = rng.random(n)  # networks only, hospitals only, or both
    networks = _network_lists(rng, hospitals, memberships.hosp[patients.slots[who, 0]])
    hospital_list, latest_joined = _hospital_lists(rng, hospitals, memberships,
                                                   patients.slots[who])
    # Nobody registers before their 18th birthday or names a hospital before it joins
    # (both judged on the Bangkok day): such rows move to the first Bangkok minute allowed.
    names_hospitals = listed & (mode >= 0.5)
    birth = patients.birth[who].astype("datetime64[D]")
    earliest = _eighteenth_birthday(birth).astype("datetime64[s]") + BANGKOK_MIDNIGHT
    joined = latest_joined.astype("datetime64[s]") + BANGKOK_MIDNIGHT
    earliest = np.where(names_hospitals, np.maximum(earliest, joined), earliest)
    registered = np.maximum(registered, earliest + np.timedelta64(60, "s"))
    verified = registered - verification_delay
    columns = {
        "cid": fmt.ints(patients.cid[who]),
        "birth_date": pc.strftime(pa.array(birth), format="%Y-%m-%d"),
        "registered_at": _iso(registered),
        "status": fmt.pick(["active", "withdrawn"], (rng.random(n) < 0.04) & (not everyone)),
        "sender_scope": fmt.pick(["ALL", "LIST"], listed),
        "sender_networks": fmt.blank_where(networks, ~listed | (mode >= 0.7)),
        "sender_hospitals": fmt.blank_where(hospital_list, ~listed | (mode < 0.5)),
        "sensitive_allowed": fmt.pick(["false", "true"], rng.random(n) < 0.3),
        "verification_method": fmt.pick(VERIFICATION_METHODS, rng.random(n) < 0.4),
        "verified_at": _iso(verified),
    }
    return pa.table({name: columns[name] for name in COLUMNS})


def write_registrations(out_dir: Path, table: pa.Table) -> None:
    folder = out_dir / "consent"
    folder.mkdir(parents=True, exist_ok=True)
    # Values never hold commas or quotes (lists are ';'-separated), so no quoting is needed.
    with (folder / "registrations.csv").open("wb") as handle:
        handle.write((",".join(table.column_names) + "\n").encode("ascii"))
        pacsv.write_csv(table, handle,
                        pacsv.WriteOptions(quoting_style="none", include_header=False))
