"""What every file builder shares: the generated world and the columns common to many files."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthetic import fmt
from synthetic.codes import CodeSets
from synthetic.hospitals import Hospitals
from synthetic.patients import Memberships, NamePool, Patients
from synthetic.visits import Admissions, Visits, folder_end


@dataclass
class World:
    start: date
    seed: int
    hospitals: Hospitals
    patients: Patients
    memberships: Memberships
    visits: Visits
    admissions: Admissions
    codes: CodeSets
    names: NamePool

    def rng(self, name: str) -> np.random.Generator:
        """An independent stream per file, so one file's draws never shift another's."""
        return np.random.default_rng([self.seed, *name.encode("utf-8")])


@dataclass
class FileRows:
    """One extract file for all hospitals and days, before it is split and written."""

    name: str
    hosp: np.ndarray
    day: np.ndarray
    patient: np.ndarray
    columns: dict[str, pa.Array]  # every field except HOSPCODE and CID
    date_field: str  # the field a "date after the extract date" error goes into
    date_is_datetime: bool = False
    vital: tuple[str, str] | None = None  # (field, implausible value)
    bad_code: tuple[str, str] | None = None  # (field, malformed value)
    short_rows: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    invalid_cid: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    def __len__(self) -> int:
        return len(self.hosp)


def child_counts(rng: np.random.Generator, n: int, mean: float, cap: int) -> np.ndarray:
    return np.minimum(rng.poisson(mean, n), cap)


def expand(counts: np.ndarray) -> np.ndarray:
    """Parent index of each child row."""
    return np.repeat(np.arange(len(counts)), counts)


def unique_pairs(parent: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Indices that drop repeated (parent, code) pairs (the first one stays), in parent
    order: the files key on these pairs."""
    _, keep = np.unique(parent * 1_000_003 + code, return_index=True)
    return keep[np.lexsort((keep, parent[keep]))]


def draw(rng: np.random.Generator, pool: np.ndarray, n: int, skew: float = 1.0) -> np.ndarray:
    """n codes from a pool, Zipf-like so that some codes are common and others rare."""
    if len(pool) == 0:
        raise ValueError("empty code pool: check the reference seeds")
    weights = 1.0 / np.arange(1, len(pool) + 1) ** skew
    return pool[rng.choice(len(pool), size=n, p=weights / weights.sum())]


def provider(world: World, rng: np.random.Generator, hosp: np.ndarray) -> pa.Array:
    """Hospital-local provider ids: HCODE + a 5-digit number."""
    number = fmt.padded(rng.integers(1, 80, len(hosp)), 5)
    return pc.binary_join_element_wise(fmt.pick(world.hospitals.codes, hosp), number, "")


def updated_at(world: World, rng: np.random.Generator, moment: np.ndarray, day: np.ndarray,
               hosp: np.ndarray) -> pa.Array:
    """D_UPDATE: a little after the event, never after the extract folder's date."""
    later = moment + rng.integers(300, 4 * 3600, len(moment)).astype("timedelta64[s]")
    return fmt.datetimes(np.minimum(later, folder_end(world.start, day)),
                         world.hospitals.buddhist[hosp])


@dataclass
class VisitRows:
    visit: np.ndarray
    hosp: np.ndarray
    day: np.ndarray
    patient: np.ndarray
    columns: dict[str, pa.Array]


def visit_rows(world: World, rng: np.random.Generator, visit: np.ndarray) -> VisitRows:
    """PID, SEQ, DATE_SERV, D_UPDATE and PROVIDER of rows that belong to OPD visits."""
    v = world.visits
    hosp = v.hosp[visit]
    day = v.day[visit]
    return VisitRows(
        visit=visit, hosp=hosp, day=day, patient=v.patient[visit],
        columns={
            "PID": fmt.ints(world.memberships.pid[v.membership[visit]]),
            "SEQ": fmt.ints(v.seq[visit]),
            "DATE_SERV": fmt.dates(v.date[visit], world.hospitals.buddhist[hosp]),
            "D_UPDATE": updated_at(world, rng, v.moment[visit], day, hosp),
            "PROVIDER": provider(world, rng, hosp),
        },
    )


def admission_rows(world: World, rng: np.random.Generator, admission: np.ndarray) -> VisitRows:
    """PID, SEQ, AN, DATETIME_ADMIT, D_UPDATE and PROVIDER of rows of admissions."""
    a = world.admissions
    visit = a.visit[admission]
    rows = visit_rows(world, rng, visit)
    rows.columns["AN"] = fmt.ints(a.an[admission])
    rows.columns["DATETIME_ADMIT"] = fmt.datetimes(
        a.admit[admission], world.hospitals.buddhist[rows.hosp]
    )
    rows.columns["D_UPDATE"] = updated_at(world, rng, a.discharge[admission], rows.day, rows.hosp)
    return rows


def file_rows(name: str, rows: VisitRows, columns: dict[str, pa.Array], **kwargs) -> FileRows:
    return FileRows(name=name, hosp=rows.hosp, day=rows.day, patient=rows.patient,
                    columns={**rows.columns, **columns}, **kwargs)
