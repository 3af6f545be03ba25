"""Synthetic hospitals and networks, and the registry YAML files that describe them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import yaml
from faker import Faker

# Quirks are spread over hospitals 1.. so that each quirky hospital has, where possible,
# one quirk only: a connector test then points at the quirk that broke it.
QUIRKS = ("tis620", "buddhist", "headerless")


@dataclass(frozen=True)
class Network:
    code: str
    name: str
    consent_type: str  # one_time | per_visit


@dataclass(frozen=True)
class Hospitals:
    codes: list[str]
    names: list[str]
    network: np.ndarray  # index into networks
    networks: list[Network]
    participating_since: list[date]
    encoding: list[str]
    buddhist: np.ndarray  # bool
    header: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.codes)


PROVINCE_SIZE = 14  # hospitals per province at national size: 1,100 / 77 provinces, rounded


def _unique_names(fake: Faker, n: int, prefix: str) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for _ in range(n):
        base = f"{prefix}{fake.province()}"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base} {seen[base]}")
    return names


def build_hospitals(
    rng: np.random.Generator, fake: Faker, n: int, start: date,
    quirk_counts: dict[str, int],
) -> Hospitals:
    if not 1 <= n <= 90_000:
        raise ValueError("hospitals must be between 1 and 90000")
    codes = [str(c) for c in 10_000 + rng.choice(90_000, size=n, replace=False)]
    n_networks = min(n, int(rng.integers(2, 5)))
    if n > PROVINCE_SIZE * 4:
        # A national registry: about one provincial network per PROVINCE_SIZE hospitals (77
        # provinces for 1,100), so the networks, and the health regions derived from them,
        # are as many as the country's. Smaller registries keep 2-4 (same seeded output).
        n_networks = round(n / PROVINCE_SIZE)
    networks = [
        Network(
            code=f"NET{i + 1:02d}",
            name=f"เครือข่ายบริการสุขภาพ{name}",
            # The last network asks per-visit consent; hospital 0 stays in a one-time network.
            consent_type="per_visit" if i == n_networks - 1 and n_networks > 1 else "one_time",
        )
        for i, name in enumerate(_unique_names(fake, n_networks, "จังหวัด"))
    ]
    network = np.concatenate(
        [np.arange(min(n, n_networks)), rng.integers(0, n_networks, max(0, n - n_networks))]
    )
    joined = rng.integers(30, 3 * 365, n)
    flags = {quirk: np.zeros(n, bool) for quirk in QUIRKS}
    slot = 0
    for quirk in QUIRKS:
        for _ in range(quirk_counts.get(quirk, 0) if n > 1 else 0):
            flags[quirk][1 + slot % (n - 1)] = True
            slot += 1
    return Hospitals(
        codes=codes,
        names=_unique_names(fake, n, "โรงพยาบาล"),
        network=network,
        networks=networks,
        participating_since=[start - timedelta(days=int(d)) for d in joined],
        encoding=["tis-620" if t else "utf-8" for t in flags["tis620"]],
        buddhist=flags["buddhist"],
        header=~flags["headerless"],
    )


def write_registry(out_dir: Path, hospitals: Hospitals) -> None:
    registry = out_dir / "registry"
    (registry / "hospitals").mkdir(parents=True, exist_ok=True)
    networks = [
        {"code": n.code, "name": n.name, "consent_type": n.consent_type}
        for n in hospitals.networks
    ]
    _dump(registry / "networks.yml", {"networks": networks})
    for i, code in enumerate(hospitals.codes):
        _dump(registry / "hospitals" / f"{code}.yml", {
            "hospital_code": code,
            "name": hospitals.names[i],
            "network": hospitals.networks[int(hospitals.network[i])].code,
            # A provincial network lies in one health region; spread networks over the 13.
            "health_region": int(hospitals.network[i]) % 13 + 1,
            "participating_since": hospitals.participating_since[i],
            "per_visit_consent": None,
            "schedule": "0 2 * * *",
            "reject_threshold": 0.05,
            "freshness_sla_days": 4,
            "connector": {
                "kind": "file43",
                "path": f"../../extracts/{code}",
                "encoding": hospitals.encoding[i],
                "date_era": "buddhist" if hospitals.buddhist[i] else "gregorian",
                "header": bool(hospitals.header[i]),
            },
            "contacts": [
                {"name": f"Data team {code}", "role": "data_engineer",
                 "email": f"data-{code}@example.org"},
            ],
        })


def _dump(path: Path, document: dict) -> None:
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=200)
    path.write_text(text, encoding="utf-8")
