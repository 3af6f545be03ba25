"""One set of connector settings for a whole folder, from what each file's bytes say, and
where a hospital's declared settings disagree with it.

Files that say nothing (an empty file; ASCII only, which reads alike in UTF-8 and TIS-620)
do not vote. Files that contradict each other leave the setting undecided: no single
`connector:` block can read such a folder, and the connector would stop on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from connectors.file43.settings import File43Settings
from warehouse.onboarding.detect import FileFormat

SETTINGS: Final = ("encoding", "delimiter", "header", "date_era")
# What File43Settings assumes when the YAML is silent, used when no file gives evidence.
DEFAULTS: Final = {name: File43Settings.model_fields[name].default for name in SETTINGS}


@dataclass
class Proposal:
    settings: dict[str, object]  # setting -> proposed value (the default when no evidence)
    evidence: dict[str, bool]  # setting -> whether any file showed it
    conflicts: list[str] = field(default_factory=list)  # files disagree: no value reads all


@dataclass(frozen=True)
class Disagreement:
    setting: str
    declared: object
    detected: object
    files: tuple[str, ...]  # the files whose bytes say otherwise

    def to_dict(self) -> dict[str, object]:
        return {
            "setting": self.setting,
            "declared": self.declared,
            "detected": self.detected,
            "files": list(self.files),
        }


def _votes(formats: Sequence[FileFormat], setting: str) -> dict[str, object]:
    """file name -> what that file says of `setting` (files without evidence left out)."""
    votes: dict[str, object] = {}
    for found in formats:
        if setting == "encoding":
            value: object = found.encoding
            if value == "ascii":
                continue
            if value is None:
                value = "neither utf-8 nor tis-620"
        elif setting == "date_era":
            value = found.era
        else:
            value = getattr(found, setting)
        if value is not None and found.data_lines > 0:
            votes[found.name] = value
    return votes


def propose(formats: Sequence[FileFormat]) -> Proposal:
    proposal = Proposal(settings={}, evidence={})
    for setting in SETTINGS:
        votes = _votes(formats, setting)
        tally = Counter(votes.values())
        proposal.evidence[setting] = bool(tally)
        if not tally:
            proposal.settings[setting] = DEFAULTS[setting]
            continue
        value, _ = tally.most_common(1)[0]
        proposal.settings[setting] = value
        if len(tally) > 1 or value == "neither utf-8 nor tis-620":
            counts = ", ".join(f"{v!r} in {n} file(s)" for v, n in tally.most_common())
            odd = sorted(name for name, v in votes.items() if v != value) or sorted(votes)
            proposal.conflicts.append(f"{setting}: {counts} ({', '.join(odd)})")
    return proposal


def disagreements(formats: Sequence[FileFormat], declared: File43Settings) -> list[Disagreement]:
    """Every setting where some file's bytes contradict the hospital's declaration."""
    found = []
    for setting in SETTINGS:
        expected = getattr(declared, setting)
        votes = _votes(formats, setting)
        against = {name: value for name, value in votes.items() if value != expected}
        if against:
            detected = Counter(against.values()).most_common(1)[0][0]
            found.append(Disagreement(setting, expected, detected, tuple(sorted(against))))
    return found
