"""The national day's two knobs: hospitals of very different sizes, and full consent."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthetic import generate_dataset
from tests.support.synthetic_dataset import START, Dataset

# One large hospital, five small ones: the large one is home to half of the patients.
SIZES = [5.0, 1.0, 1.0, 1.0, 1.0, 1.0]


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    root = tmp_path_factory.mktemp("national")
    manifest = generate_dataset(
        root, hospitals=len(SIZES), patients=3000, days=1, start_date=START, seed=7,
        history_years=0, visits_per_patient=1.0, hospital_sizes=SIZES, full_consent=True,
    )  # fmt: skip
    return Dataset(root, manifest)


def test_visits_follow_the_hospital_sizes(national: Dataset) -> None:
    day = national.days[0]
    visits = {h.code: len(national.records(h, day, "SERVICE")) for h in national.hospitals}
    counts = sorted(visits.values())
    assert sum(counts) == national.manifest["totals"]["visits"] == 3000
    # the large hospital has about five times the visits of each small one (1,500 vs 300)
    assert 1300 < counts[-1] < 1700
    assert all(200 < small < 400 for small in counts[:-1])


def test_every_patient_consents_to_every_hospital(national: Dataset) -> None:
    registrations = national.registrations()
    assert {r["status"] for r in registrations} == {"active"}
    assert {r["sender_scope"] for r in registrations} == {"ALL"}
    registered = {r["cid"] for r in registrations}
    day = national.days[0]
    in_extracts = {
        r["CID"] for h in national.hospitals for r in national.records(h, day, "PERSON")
    }
    assert in_extracts and in_extracts <= registered
    assert len(registered) == 3000


def test_sizes_need_one_positive_weight_per_hospital(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one positive weight per hospital"):
        generate_dataset(tmp_path, hospitals=3, patients=10, start_date=START,
                         hospital_sizes=[1.0, 2.0])


def test_a_national_registry_spreads_over_every_health_region() -> None:
    """At 1,100 hospitals the networks are about as many as Thailand's provinces, so the DAG's
    health-region groups are as many and as large as the country's (about 85 hospitals each),
    not two to four regions of hundreds."""
    from collections import Counter
    from datetime import date

    import numpy as np
    from faker import Faker

    from synthetic.hospitals import build_hospitals

    hospitals = build_hospitals(np.random.default_rng(42), Faker("th_TH"), 1100, date(2026, 11, 23), {})
    assert 70 <= len(hospitals.networks) <= 85
    regions = Counter(int(network) % 13 + 1 for network in hospitals.network)
    assert sorted(regions) == list(range(1, 14))
    assert max(regions.values()) < 150
    small = build_hospitals(np.random.default_rng(42), Faker("th_TH"), 6, date(2026, 11, 23), {})
    assert 2 <= len(small.networks) <= 4


def test_consent_lists_name_networks_of_a_national_registry(tmp_path: Path) -> None:
    """With more networks than can be listed as subsets (2^k), LIST choosers still name real
    networks; the generator used to enumerate all 2^k subsets and ran out of memory."""
    import csv

    import yaml

    generate_dataset(tmp_path, hospitals=200, patients=600, days=1, start_date=START, seed=3,
                     history_years=0, visits_per_patient=1.0)  # fmt: skip
    networks = yaml.safe_load((tmp_path / "registry" / "networks.yml").read_text())["networks"]
    codes = {n["code"] for n in networks}
    assert len(codes) > 12
    with (tmp_path / "consent" / "registrations.csv").open(encoding="utf-8") as handle:
        named = [r["sender_networks"] for r in csv.DictReader(handle) if r["sender_networks"]]
    assert named
    assert all(set(chosen.split(";")) <= codes for chosen in named)
    assert len({code for chosen in named for code in chosen.split(";")}) > 12
