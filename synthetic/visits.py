"""Outpatient visits and the admissions some of them become."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np

from synthetic.patients import Memberships, Patients

ADMISSION_RATE = 0.05
DAY_SECONDS = 86_400


@dataclass
class Visits:
    """Sorted by hospital, date and time; `day` is the extract folder (0 = first day)."""

    membership: np.ndarray
    patient: np.ndarray
    hosp: np.ndarray
    date: np.ndarray  # datetime64[D]
    time: np.ndarray  # seconds of day
    seq: np.ndarray  # hospital-local visit number
    day: np.ndarray
    age: np.ndarray  # whole years at the visit

    def __len__(self) -> int:
        return len(self.patient)

    @cached_property
    def moment(self) -> np.ndarray:
        return self.date.astype("datetime64[s]") + self.time.astype("timedelta64[s]")


@dataclass
class Admissions:
    visit: np.ndarray  # index into Visits
    an: np.ndarray  # hospital-local admission number
    admit: np.ndarray  # datetime64[s]
    discharge: np.ndarray  # datetime64[s]

    def __len__(self) -> int:
        return len(self.visit)


def folder_end(start: date, day: np.ndarray) -> np.ndarray:
    """The last second of each row's extract folder date."""
    return (np.datetime64(start, "D") + day.astype("timedelta64[D]")).astype("datetime64[s]") \
        + np.timedelta64(DAY_SECONDS - 1, "s")


def build_visits(
    rng: np.random.Generator, patients: Patients, memberships: Memberships, start: date,
    days: int, history_years: int, visits_per_patient: float,
) -> Visits:
    n = len(patients)
    counts = 1 + rng.poisson(max(visits_per_patient - 1.0, 0.0), n)
    patient = np.repeat(np.arange(n), counts)
    rank = np.arange(len(patient)) - np.repeat(np.cumsum(counts) - counts, counts)
    n_memb = patients.n_memberships[patient]
    # The first visits cover every hospital of the patient; later ones favour home.
    later = np.where(rng.random(len(patient)) < 0.5, 0, np.floor(rng.random(len(patient)) * n_memb))
    slot = np.where(rank < n_memb, rank, later).astype(np.int64)
    membership = patients.slots[patient, slot]

    first = np.datetime64(start, "D") - np.timedelta64(history_years * 365, "D")
    last = np.datetime64(start, "D") + np.timedelta64(days - 1, "D")
    low = np.maximum(patients.birth[patient], first)
    span = (last - low).astype(np.int64) + 1
    offset = np.floor(rng.random(len(patient)) * span).astype(np.int64)
    visit_date = low + offset.astype("timedelta64[D]")

    # One visit per patient, hospital and date: the 43-file keys on dates rely on it.
    day_no = (visit_date - first).astype(np.int64)
    n_days = int((last - first).astype(np.int64)) + 1
    _, keep = np.unique(membership * n_days + day_no, return_index=True)
    membership, patient, visit_date = membership[keep], patient[keep], visit_date[keep]
    hosp = memberships.hosp[membership]
    time = rng.integers(7 * 3600, 20 * 3600, len(keep))
    order = np.lexsort((time, visit_date, hosp))
    ordered: list[np.ndarray] = [a[order] for a in (membership, patient, visit_date, hosp, time)]
    membership, patient, visit_date, hosp, time = ordered
    hosp_start = np.searchsorted(hosp, hosp, side="left")
    return Visits(
        membership=membership,
        patient=patient,
        hosp=hosp,
        date=visit_date,
        time=time,
        seq=np.arange(len(hosp)) - hosp_start + 1,
        day=np.clip((visit_date - np.datetime64(start, "D")).astype(np.int64), 0, None),
        age=_whole_years(visit_date - patients.birth[patient]),
    )


def _whole_years(elapsed: np.ndarray) -> np.ndarray:
    return (elapsed.astype(np.int64) // 365.25).astype(np.int64)


def build_admissions(rng: np.random.Generator, visits: Visits, start: date) -> Admissions:
    chosen = np.flatnonzero(rng.random(len(visits)) < ADMISSION_RATE)
    hosp = visits.hosp[chosen]
    an = np.arange(len(chosen)) - np.searchsorted(hosp, hosp, side="left") + 1
    admit = visits.moment[chosen] + rng.integers(600, 3 * 3600, len(chosen)).astype(
        "timedelta64[s]"
    )
    stay = (rng.geometric(0.35, len(chosen)) - 1) * DAY_SECONDS + rng.integers(
        2 * 3600, 10 * 3600, len(chosen)
    )
    # Nothing is dated after its extract folder: an ongoing stay is cut at the folder's end.
    discharge = np.minimum(
        admit + stay.astype("timedelta64[s]"), folder_end(start, visits.day[chosen])
    )
    return Admissions(visit=chosen, an=an, admit=admit, discharge=discharge)
