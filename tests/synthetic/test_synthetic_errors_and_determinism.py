"""Injected errors are real and counted; the same arguments give byte-identical files."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date
from pathlib import Path

from stdnum.th import pin

from synthetic import generate_dataset
from synthetic.layout import FILE_FIELDS, FILE_NAMES
from tests.support.synthetic_dataset import Dataset

TINY = dict(hospitals=4, patients=120, days=2, start_date=date(2024, 1, 10), seed=3,
            error_rate=0.02)


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_arguments_give_identical_files(tmp_path: Path) -> None:
    generate_dataset(tmp_path / "a", **TINY)  # type: ignore[arg-type]
    generate_dataset(tmp_path / "b", **TINY)  # type: ignore[arg-type]
    first, second = tree_digest(tmp_path / "a"), tree_digest(tmp_path / "b")
    assert len(first) == 1 + 1 + 4 + 4 * 2 * len(FILE_NAMES) + 1  # networks, hospitals, ...
    assert first == second
    generate_dataset(tmp_path / "c", **{**TINY, "seed": 4})  # type: ignore[arg-type]
    assert tree_digest(tmp_path / "c") != first


def test_injected_errors_are_in_the_files_and_counted(dirty: Dataset) -> None:
    found: Counter = Counter()
    for hospital in dirty.hospitals:
        for day in dirty.days:
            for name in FILE_NAMES:
                width = len(FILE_FIELDS[name])
                for fields in dirty.lines(hospital, day, name):
                    if len(fields) == width - 1:
                        found["missing_field"] += 1
                        continue
                    assert len(fields) == width
                    record = dict(zip(FILE_FIELDS[name], fields, strict=True))
                    if not pin.is_valid(record["CID"]):
                        found["invalid_cid"] += 1
                    if name == "SERVICE" and record["BTEMP"] == "75.0":
                        found["implausible_vital"] += 1
    totals = dirty.manifest["errors"]["totals"]
    assert totals["missing_field"] == found["missing_field"] > 0
    assert totals["invalid_cid"] == found["invalid_cid"] > 0
    assert found["implausible_vital"] > 0
    assert totals["future_date"] > 0 and totals["malformed_code"] > 0
    by_file = dirty.manifest["errors"]["by_file"]
    assert sum(n for per_day in by_file.values() for per_file in per_day.values()
               for kinds in per_file.values() for n in kinds.values()) == sum(totals.values())


def test_manifest_has_counts_but_no_personal_data(dirty: Dataset) -> None:
    text = (dirty.root / "manifest.json").read_text(encoding="utf-8")
    cids = {f[1] for h in dirty.hospitals for f in dirty.lines(h, dirty.days[0], "PERSON")}
    assert not any(cid in text for cid in cids)
    assert dirty.manifest["totals"]["patients"] == 400
