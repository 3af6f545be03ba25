"""Which clinical story each visit tells: its focus condition and principal diagnosis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.codes import CodeSets
from synthetic.patients import CONDITIONS
from synthetic.rows import World, draw

GENERAL = -1
SEXUAL = CONDITIONS.index("sexual_reproductive")
FOCUS_RATE = 0.45  # share of a patient's visits that are about one of their conditions


@dataclass(frozen=True)
class DiagnosisPools:
    by_condition: dict[str, np.ndarray]
    male_sexual_reproductive: np.ndarray
    general: np.ndarray


def diagnosis_pools(codes: CodeSets) -> DiagnosisPools:
    icd = codes.icd10
    by_condition = {
        "hiv": icd.in_category("hiv"),
        "mental_health": icd.in_category("mental_health"),
        "substance_use": icd.in_category("substance_use"),
        "sexual_reproductive": icd.in_category("sexual_reproductive"),
        "diabetes": icd.starting("E11"),
        "hypertension": icd.starting("I10", "I11"),
    }
    sexual = by_condition["sexual_reproductive"]
    male = np.array([i for i in sexual if not icd.codes[i].startswith(("O", "Z3"))], np.int64)
    return DiagnosisPools(by_condition, male if len(male) else sexual, icd.general())


def visit_focus(world: World) -> np.ndarray:
    """Per visit, the index in CONDITIONS it is about, or GENERAL."""
    rng = world.rng("focus")
    v, p = world.visits, world.patients
    focus = np.full(len(v), GENERAL, np.int64)
    for i, condition in enumerate(CONDITIONS):
        has = p.conditions[condition][v.patient]
        pick = (focus == GENERAL) & has & (rng.random(len(v)) < FOCUS_RATE)
        focus[pick] = i
    return focus


def principal_diagnoses(world: World, pools: DiagnosisPools, focus: np.ndarray) -> np.ndarray:
    """Per visit, an index into the ICD-10 list."""
    rng = world.rng("principal")
    male = world.patients.sex[world.visits.patient] == 1
    codes = draw(rng, pools.general, len(focus))
    for i, condition in enumerate(CONDITIONS):
        for pool, rows in (
            (pools.by_condition[condition], (focus == i) & ~(male & (i == SEXUAL))),
            (pools.male_sexual_reproductive, (focus == i) & male & (i == SEXUAL)),
        ):
            if rows.any() and len(pool):
                codes[rows] = draw(rng, pool, int(rows.sum()), skew=0.5)
    return codes
