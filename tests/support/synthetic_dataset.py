"""Reading what the generator wrote, for the generator's tests."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from synthetic.layout import FILE_FIELDS

START = date(2025, 6, 1)


@dataclass(frozen=True)
class Hospital:
    code: str
    encoding: str
    buddhist: bool
    header: bool


@dataclass(frozen=True)
class Dataset:
    root: Path
    manifest: dict

    @property
    def hospitals(self) -> list[Hospital]:
        found = []
        for path in sorted((self.root / "registry" / "hospitals").glob("*.yml")):
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            conn = doc["connector"]
            found.append(Hospital(doc["hospital_code"], conn["encoding"],
                                  conn["date_era"] == "buddhist", conn["header"]))
        return found

    def hospital(self, **wanted: object) -> Hospital:
        return next(h for h in self.hospitals
                    if all(getattr(h, k) == v for k, v in wanted.items()))

    @property
    def days(self) -> list[str]:
        return sorted(next(iter(self.manifest["files"].values())))

    def path(self, hospital: Hospital, day: str, name: str) -> Path:
        return self.root / "extracts" / hospital.code / day / f"{name}.txt"

    def lines(self, hospital: Hospital, day: str, name: str) -> list[list[str]]:
        """Data lines split into fields (header dropped)."""
        text = self.path(hospital, day, name).read_bytes().decode(
            "tis_620" if hospital.encoding == "tis-620" else "utf-8")
        lines = text.splitlines()
        if hospital.header:
            assert lines and lines[0] == "|".join(FILE_FIELDS[name])
            lines = lines[1:]
        return [line.split("|") for line in lines]

    def records(self, hospital: Hospital, day: str, name: str) -> list[dict[str, str]]:
        fields = FILE_FIELDS[name]
        return [dict(zip(fields, row, strict=True)) for row in self.lines(hospital, day, name)]

    def registrations(self) -> list[dict[str, str]]:
        with (self.root / "consent" / "registrations.csv").open(encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
