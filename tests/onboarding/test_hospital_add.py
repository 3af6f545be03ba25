"""`healthlink hospital add`: a validated YAML that never overwrites, with the connector
settings the hospital's latest extract calls for, and no participation date."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from connectors.file43 import File43Settings
from tests.support.onboarding import DAY, Onboarding, healthlink
from warehouse.hospital_registry import load_hospital, load_registry

NEW_CODE = "77001"


@pytest.fixture
def registry(onboarding: Onboarding, tmp_path: Path) -> Path:
    """A registry with the generated networks and no hospital yet."""
    target = tmp_path / "registry"
    (target / "hospitals").mkdir(parents=True)
    shutil.copy(onboarding.registry / "networks.yml", target / "networks.yml")
    return target


def file43(path: Path) -> File43Settings:
    connector = load_hospital(path).connector
    assert isinstance(connector, File43Settings)
    return connector


def add(registry: Path, path: Path, *extra: str, code: str = NEW_CODE) -> tuple[int, str]:
    return healthlink(
        "hospital",
        "add",
        code,
        "--name",
        "โรงพยาบาลทดสอบ",
        "--network",
        "NET01",
        "--health-region",
        "4",
        "--connector",
        "file43",
        "--path",
        str(path),
        "--registry",
        str(registry),
        *extra,
    )


def test_it_writes_what_the_latest_extract_calls_for(
    onboarding: Onboarding, registry: Path
) -> None:
    source = onboarding.code_where(encoding="tis-620")
    hospital_root = onboarding.extract(source).parent

    exit_code, output = add(registry, hospital_root, "--json")

    assert exit_code == 0, output
    report = json.loads(output)
    assert Path(report["check"]["folder"]).parent == hospital_root
    written = registry / "hospitals" / f"{NEW_CODE}.yml"
    document = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert "participating_since" not in document
    assert document["connector"]["encoding"] == "tis-620"
    assert document["health_region"] == 4
    hospital = load_hospital(written)
    assert hospital.participating_since is None
    assert not hospital.participates_on(DAY)
    assert file43(written).path == hospital_root.resolve()
    assert NEW_CODE in load_registry(registry).hospitals

    agrees, checked = healthlink(
        "extract",
        "check",
        str(hospital_root),
        "--hospital",
        NEW_CODE,
        "--registry",
        str(registry),
        "--json",
    )
    assert json.loads(checked)["disagreements"] == []
    assert agrees == 0


def test_it_prints_what_it_detected_for_people(onboarding: Onboarding, registry: Path) -> None:
    source = onboarding.code_where(date_era="buddhist")

    exit_code, output = add(registry, onboarding.extract(source).parent)

    assert exit_code == 0, output
    assert "'buddhist'" in output and "Code coverage" in output
    assert "participating_since not set" in output
    connector = file43(registry / "hospitals" / f"{NEW_CODE}.yml")
    assert connector.date_era == "buddhist"


def test_it_never_overwrites_a_hospital(onboarding: Onboarding, registry: Path) -> None:
    source = onboarding.code_where(header=False)
    existing = registry / "hospitals" / f"{NEW_CODE}.yml"
    existing.write_text("hospital_code: '77001'\n", encoding="utf-8")

    exit_code, output = add(registry, onboarding.extract(source).parent)

    assert exit_code == 2
    assert "already exists" in output
    assert existing.read_text(encoding="utf-8") == "hospital_code: '77001'\n"


def test_what_the_registry_model_refuses_is_not_written(
    onboarding: Onboarding, registry: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "no-extract-yet"
    empty.mkdir()

    bad_code, output = add(registry, empty, code="7700")  # not 5 digits

    assert bad_code == 2
    assert "hospital_code" in output
    assert list((registry / "hospitals").iterdir()) == []


def test_without_an_extract_it_writes_the_defaults(registry: Path, tmp_path: Path) -> None:
    empty = tmp_path / "no-extract-yet"
    empty.mkdir()

    exit_code, output = add(registry, empty)

    assert exit_code == 0, output
    assert "no extract" in output
    connector = file43(registry / "hospitals" / f"{NEW_CODE}.yml")
    assert (connector.encoding, connector.header, connector.delimiter) == ("utf-8", True, "|")


def test_an_unknown_network_is_refused(
    onboarding: Onboarding, registry: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "no-extract-yet"
    empty.mkdir()

    exit_code, output = healthlink(
        "hospital",
        "add",
        NEW_CODE,
        "--name",
        "x",
        "--network",
        "NOPE",
        "--health-region",
        "4",
        "--path",
        str(empty),
        "--registry",
        str(registry),
    )

    assert exit_code == 2
    assert "unknown network" in output
    assert not (registry / "hospitals" / f"{NEW_CODE}.yml").exists()
