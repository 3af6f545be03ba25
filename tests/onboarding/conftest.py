"""Synthetic 43-file hospitals for the onboarding tests: one plain, one TIS-620, one in the
Buddhist era and one headerless (the generator's quirk order), with injected errors."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.onboarding import DAY, Onboarding


@pytest.fixture(scope="session")
def onboarding(small_dataset: Path) -> Onboarding:
    """The suite's small dataset (tests/conftest.py): its first day holds each hospital's
    history, with a few injected errors."""
    return Onboarding(small_dataset)


@pytest.fixture
def copy_of(onboarding: Onboarding, tmp_path: Path) -> Iterator[object]:
    """A writable copy of a hospital's day folder, as <tmp>/<code>/<day>."""

    def copy(code: str) -> Path:
        target = tmp_path / code / DAY.isoformat()
        shutil.copytree(onboarding.extract(code), target)
        return target

    yield copy
