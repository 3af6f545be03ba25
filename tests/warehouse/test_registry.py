from __future__ import annotations

from pathlib import Path

import pytest

from warehouse.hospital_registry import RegistryError, load_registry

NETWORKS = """networks:
  - {code: NET01, name: "เครือข่ายหนึ่ง", consent_type: one_time}
  - {code: NET02, name: "เครือข่ายสอง", consent_type: per_visit}
"""

HOSPITAL = """hospital_code: "{code}"
name: "โรงพยาบาลทดสอบ"
network: {network}
health_region: 13
participating_since: 2024-01-01
{extra}
connector:
  kind: file43
  path: ../../extracts/{code}
  encoding: {encoding}
  date_era: gregorian
  header: true
contacts:
  - {{name: "ผู้ดูแล", role: data_engineer, email: it@example.org}}
"""


def write_registry(root: Path, hospitals: dict[str, str]) -> Path:
    (root / "hospitals").mkdir(parents=True)
    (root / "networks.yml").write_text(NETWORKS, encoding="utf-8")
    for code, text in hospitals.items():
        (root / "hospitals" / f"{code}.yml").write_text(text, encoding="utf-8")
    return root


def hospital(code: str, network: str = "NET01", encoding: str = "utf-8", extra: str = "") -> str:
    return HOSPITAL.format(code=code, network=network, encoding=encoding, extra=extra)


def test_valid_registry_inherits_per_visit_consent_from_network(tmp_path: Path) -> None:
    root = write_registry(
        tmp_path,
        {
            "10001": hospital("10001"),
            "10002": hospital("10002", network="NET02"),
            "10003": hospital("10003", network="NET02", extra="per_visit_consent: false"),
        },
    )
    registry = load_registry(root)
    flags = {c: registry.requires_per_visit_consent(h) for c, h in registry.hospitals.items()}
    assert flags == {"10001": False, "10002": True, "10003": False}
    assert Path(registry.hospitals["10001"].connector.path).is_absolute()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (hospital("10001", encoding="latin-1"), "connector"),
        (
            hospital("10001").replace('hospital_code: "10001"', 'hospital_code: "1001"'),
            "hospital_code",
        ),
        (hospital("10001", extra="per_visit: yes"), "per_visit"),
        (hospital("10001").replace("kind: file43", "kind: ftp"), "connector"),
        (hospital("10001", network="NET99"), "network"),
    ],
)
def test_bad_file_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    root = write_registry(tmp_path, {"10001": text})
    with pytest.raises(RegistryError) as error:
        load_registry(root)
    message = str(error.value)
    assert "10001.yml" in message
    assert f"field {field}" in message
    assert "ผู้ดูแล" not in message  # values, contacts included, are never echoed


def test_file_name_must_match_code(tmp_path: Path) -> None:
    root = write_registry(tmp_path, {"10002": hospital("10001")})
    with pytest.raises(RegistryError, match=r"10002\.yml.*hospital_code"):
        load_registry(root)


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    root = write_registry(tmp_path, {"10001": "hospital_code: [unclosed\n"})
    with pytest.raises(RegistryError, match=r"10001.yml: line \d+"):
        load_registry(root)
