"""Synthetic patients: national IDs, demographics, conditions and hospital memberships."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from faker import Faker

MAX_HOSPITALS_PER_PATIENT = 4  # home hospital + up to 3 others
PRENAMES = ["นาย", "นาง", "นางสาว", "ด.ช.", "ด.ญ."]
CONDITIONS = ("hiv", "mental_health", "substance_use", "sexual_reproductive", "diabetes",
              "hypertension")
_CID_WEIGHTS = np.arange(13, 1, -1, dtype=np.int64)  # digit i weighs 13 - i
# First digits of Thai ID card numbers (warehouse.consent.rules.THAI_CARD_CATEGORIES): only
# their holders may register consent; 6 and 7 are non-Thai residents.
THAI_CARD_CATEGORIES = [1, 2, 3, 4, 5, 8]


@dataclass(frozen=True)
class NamePool:
    male: list[str]
    female: list[str]
    last: list[str]


@dataclass
class Patients:
    cid: np.ndarray  # int64, 13 digits
    sex: np.ndarray  # 1 male, 2 female
    birth: np.ndarray  # datetime64[D]
    age: np.ndarray  # whole years at the start date
    prename: np.ndarray  # index into PRENAMES
    first_name: np.ndarray  # index into the sex's pool
    last_name: np.ndarray
    height_cm: np.ndarray
    bmi: np.ndarray
    conditions: dict[str, np.ndarray]  # condition -> bool per patient
    slots: np.ndarray  # (n, 4) membership index per hospital slot, -1 when unused; slot 0 = home
    n_memberships: np.ndarray

    def __len__(self) -> int:
        return len(self.cid)


@dataclass
class Memberships:
    """One row per (patient, hospital): the hospital's own PID and HN for that patient."""

    patient: np.ndarray
    hosp: np.ndarray
    pid: np.ndarray
    hn: np.ndarray

    def __len__(self) -> int:
        return len(self.patient)


def _tis620_safe(names: list[str]) -> list[str]:
    keep = []
    for name in names:
        try:
            name.encode("tis_620")
        except UnicodeEncodeError:
            continue
        keep.append(name)
    return sorted(set(keep))


def build_name_pool(fake: Faker, size: int = 400) -> NamePool:
    """Names drawn once from Faker; rows sample from this pool (Faker per row is too slow)."""
    return NamePool(
        male=_tis620_safe([fake.first_name_male() for _ in range(size)]),
        female=_tis620_safe([fake.first_name_female() for _ in range(size)]),
        last=_tis620_safe([fake.last_name() for _ in range(2 * size)]),
    )


def cid_check_digit(first12: np.ndarray) -> np.ndarray:
    """Check digit of Thai national IDs given as int64 numbers of 12 digits."""
    digits = (first12[:, None] // 10 ** np.arange(11, -1, -1, dtype=np.int64)) % 10
    return (11 - (digits @ _CID_WEIGHTS) % 11) % 10


def unique_cids(rng: np.random.Generator, n: int, thai_cards_only: bool = False) -> np.ndarray:
    """n distinct valid 13-digit national IDs, first digit 1-8 (or only the Thai card
    categories)."""
    found = np.empty(0, np.int64)
    while len(found) < n:
        draw = rng.integers(100_000_000_000, 900_000_000_000, size=n - len(found) + 16)
        if thai_cards_only:
            first = np.array(THAI_CARD_CATEGORIES)[(draw // 10**11 - 1) % len(THAI_CARD_CATEGORIES)]
            draw = draw % 10**11 + first * 10**11
        found = np.concatenate([found, draw])
        _, first = np.unique(found, return_index=True)
        found = found[np.sort(first)]
    found = found[:n]
    return found * 10 + cid_check_digit(found)


def _ages(rng: np.random.Generator, n: int, adults_only: bool) -> np.ndarray:
    minor = (rng.random(n) < 0.2) & (not adults_only)
    adult_age = 18 + np.floor(77 * rng.beta(1.6, 2.0, n))
    return np.where(minor, rng.integers(0, 18, n), adult_age).astype(np.int64)


def build_patients(
    rng: np.random.Generator, names: NamePool, n: int, n_hospitals: int, start: date,
    *, home_weights: np.ndarray | None = None, registrable_only: bool = False,
) -> tuple[Patients, Memberships]:
    """`home_weights`: each hospital's relative share of home patients (uniform when None).
    `registrable_only`: every patient an adult holding a Thai ID card, so that every one
    may register consent (the consent service's rules)."""
    age = _ages(rng, n, registrable_only)
    sex = rng.integers(1, 3, n)
    start_day = np.datetime64(start, "D")
    birth = start_day - (age * 365.25 + rng.integers(1, 365, n)).astype("timedelta64[D]")
    married = rng.random(n) < 0.6
    prename = np.select(
        [(age < 15) & (sex == 1), age < 15, sex == 1, married], [3, 4, 0, 1], default=2
    )
    first_pool = np.where(sex == 1, len(names.male), len(names.female))
    adult = age >= 15
    conditions = {
        "hiv": rng.random(n) < 0.03,
        "mental_health": (age >= 5) & (rng.random(n) < 0.05 / 0.97),
        "substance_use": adult & (rng.random(n) < 0.02 / 0.85),
        "sexual_reproductive": adult & (rng.random(n) < 0.03),
        "diabetes": (age >= 35) & (rng.random(n) < 0.12),
        "hypertension": (age >= 35) & (rng.random(n) < 0.25),
    }
    growth = np.clip(age, 0, 18) / 18
    height = np.where(sex == 1, 170, 158) * (0.3 + 0.7 * growth ** 0.7) + rng.normal(0, 6, n)
    patients = Patients(
        cid=unique_cids(rng, n, thai_cards_only=registrable_only),
        sex=sex,
        birth=birth,
        age=age,
        prename=prename,
        first_name=np.floor(rng.random(n) * first_pool).astype(np.int64),
        last_name=rng.integers(0, len(names.last), n),
        height_cm=np.clip(height, 45, 200),
        bmi=np.clip(rng.normal(np.where(adult, 23.5, 17.0), 3.5, n), 12, 45),
        conditions=conditions,
        slots=np.full((n, MAX_HOSPITALS_PER_PATIENT), -1, np.int64),
        n_memberships=np.ones(n, np.int64),
    )
    return patients, _memberships(rng, patients, n_hospitals, home_weights)


def _memberships(rng: np.random.Generator, patients: Patients, n_hospitals: int,
                 home_weights: np.ndarray | None) -> Memberships:
    n = len(patients)
    others = min(MAX_HOSPITALS_PER_PATIENT - 1, n_hospitals - 1)
    count = 1 + (rng.integers(1, others + 1, n) if others else np.zeros(n, np.int64))
    # Distinct hospitals per patient: a random offset walk modulo the hospital count.
    if home_weights is None:
        home = rng.integers(0, n_hospitals, n)
    else:
        home = rng.choice(n_hospitals, size=n, p=home_weights / home_weights.sum())
    hosp_slots = np.full((n, MAX_HOSPITALS_PER_PATIENT), -1, np.int64)
    hosp_slots[:, 0] = home
    if others:
        # Few hospitals: a random permutation per patient; many: draw and redraw clashes.
        if n_hospitals <= 8:
            picks = np.argsort(rng.random((n, n_hospitals - 1)), axis=1)[:, :others] + 1
        else:
            picks = _distinct_offsets(rng, n, n_hospitals, others)
        for j in range(others):
            hosp_slots[:, j + 1] = np.where(j + 1 < count, (home + picks[:, j]) % n_hospitals, -1)
    used = hosp_slots >= 0
    patient = np.repeat(np.arange(n), used.sum(axis=1))
    hosp = hosp_slots[used]
    patients.slots[used] = np.arange(len(hosp))
    patients.n_memberships = count
    return Memberships(
        patient=patient, hosp=hosp,
        pid=_rank_within(rng, hosp) + 1,
        hn=_rank_within(rng, hosp) * 7 + 100_003,
    )


def _distinct_offsets(rng: np.random.Generator, n: int, n_hospitals: int, k: int) -> np.ndarray:
    """k distinct offsets in 1..n_hospitals-1 per row, for many hospitals."""
    offsets = rng.integers(1, n_hospitals, (n, k))
    for j in range(1, k):
        clash = (offsets[:, [j]] == offsets[:, :j]).any(axis=1)
        while clash.any():
            offsets[clash, j] = rng.integers(1, n_hospitals, int(clash.sum()))
            clash = (offsets[:, [j]] == offsets[:, :j]).any(axis=1)
    return offsets


def _rank_within(rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
    """A random 0-based rank of every row within its group (hospital-local ids)."""
    order = np.lexsort((rng.random(len(group)), group))
    sorted_group = group[order]
    starts = np.searchsorted(sorted_group, sorted_group, side="left")
    rank = np.empty(len(group), np.int64)
    rank[order] = np.arange(len(group)) - starts
    return rank
