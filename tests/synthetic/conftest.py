"""Generated datasets for the generator's own tests (session-scoped: generated once)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthetic import generate_dataset
from tests.support.synthetic_dataset import START, Dataset

SMALL = dict(hospitals=5, patients=400, days=3, start_date=START, seed=11,
             visits_per_patient=5.0)


def _generate(root: Path, **overrides: object) -> Dataset:
    manifest = generate_dataset(root, **{**SMALL, **overrides})  # type: ignore[arg-type]
    assert json.loads((root / "manifest.json").read_text(encoding="utf-8")) == manifest
    return Dataset(root, manifest)


@pytest.fixture(scope="session")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return _generate(tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="session")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return _generate(tmp_path_factory.mktemp("dirty"), error_rate=0.03)
