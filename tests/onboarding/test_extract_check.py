"""`healthlink extract check`: detection, disagreement with the YAML, rejects by rule and
line, code coverage, exit codes; through the real command on synthetic extracts."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.onboarding import DAY, Onboarding, healthlink

QUIRKS: dict[str, dict[str, object]] = {
    "plain": {"encoding": "utf-8", "date_era": "gregorian", "header": True},
    "tis-620": {"encoding": "tis-620"},
    "buddhist": {"date_era": "buddhist"},
    "headerless": {"header": False},
}


def check_json(*args: str) -> tuple[int, dict]:
    code, output = healthlink("extract", "check", *args, "--json")
    return code, json.loads(output)


@pytest.mark.parametrize("quirk", list(QUIRKS))
def test_it_proposes_the_settings_each_hospital_writes_with(
    onboarding: Onboarding, quirk: str
) -> None:
    code = onboarding.code_where(**QUIRKS[quirk])
    declared = onboarding.yaml(code)["connector"]

    exit_code, report = check_json(str(onboarding.extract(code)))

    proposed = report["proposed_connector"]
    for setting in ("encoding", "delimiter", "header", "date_era"):
        assert proposed[setting] == declared.get(setting, "|"), setting
    assert report["readable"] and not report["conflicts"]
    assert exit_code == 0
    assert report["rows_read"] > 0
    assert {f["file"] for f in report["files"]} >= {"PERSON.txt", "SERVICE.txt"}


@pytest.mark.parametrize("quirk", list(QUIRKS))
def test_with_its_yaml_every_hospital_agrees(onboarding: Onboarding, quirk: str) -> None:
    code = onboarding.code_where(**QUIRKS[quirk])

    exit_code, report = check_json(
        str(onboarding.extract(code)), "--hospital", code, "--registry", str(onboarding.registry)
    )

    assert report["disagreements"] == []
    assert report["read_error"] is None
    assert exit_code == 0


def test_a_hospital_root_checks_its_latest_day_with_rows(
    onboarding: Onboarding, copy_of, tmp_path: Path
) -> None:
    with_rows = copy_of(onboarding.code_where(encoding="tis-620"))
    later_empty = with_rows.parent / (DAY + timedelta(days=1)).isoformat()
    later_empty.mkdir()
    for path in with_rows.iterdir():  # the files of a day without visits: headers only
        header = path.read_bytes().split(b"\n", 1)[0]
        (later_empty / path.name).write_bytes(header + b"\n")

    _, report = check_json(str(with_rows.parent))

    assert report["folder"] == str(with_rows)
    assert report["extract_date"] == DAY.isoformat()
    assert report["proposed_connector"]["path"] == str(with_rows.parent)
    assert report["proposed_connector"]["encoding"] == "tis-620"


def test_a_yaml_saying_utf8_for_tis620_bytes_is_flagged_and_fails(
    onboarding: Onboarding, tmp_path: Path
) -> None:
    code = onboarding.code_where(encoding="tis-620")
    registry = _registry_with(onboarding, tmp_path, code, encoding="utf-8")

    exit_code, report = check_json(
        str(onboarding.extract(code)), "--hospital", code, "--registry", str(registry)
    )

    wrong = {d["setting"]: d for d in report["disagreements"]}
    assert wrong["encoding"]["declared"] == "utf-8"
    assert wrong["encoding"]["detected"] == "tis-620"
    assert "PERSON.txt" in wrong["encoding"]["files"]
    assert report["read_error_code"] == "invalid_encoding"
    assert exit_code == 1


def test_a_yaml_saying_gregorian_for_buddhist_dates_is_flagged(
    onboarding: Onboarding, tmp_path: Path
) -> None:
    code = onboarding.code_where(date_era="buddhist")
    registry = _registry_with(onboarding, tmp_path, code, date_era="gregorian")

    exit_code, output = healthlink(
        "extract",
        "check",
        str(onboarding.extract(code)),
        "--hospital",
        code,
        "--registry",
        str(registry),
    )

    assert "date_era" in output and "disagrees" in output
    assert exit_code == 1


def test_a_headerless_hospital_declared_with_header_is_flagged(
    onboarding: Onboarding, tmp_path: Path
) -> None:
    code = onboarding.code_where(header=False)
    registry = _registry_with(onboarding, tmp_path, code, header=True)

    exit_code, report = check_json(
        str(onboarding.extract(code)), "--hospital", code, "--registry", str(registry)
    )

    assert [d["setting"] for d in report["disagreements"]] == ["header"]
    assert exit_code == 1


def test_a_comma_delimited_folder_is_detected_and_refused_as_declared(
    onboarding: Onboarding, copy_of, tmp_path: Path
) -> None:
    code = onboarding.code_where(encoding="utf-8", date_era="gregorian", header=True)
    folder = copy_of(code)
    for path in folder.iterdir():
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(",", " ").replace("|", ","), encoding="utf-8")

    _, detected = check_json(str(folder))
    exit_code, declared = check_json(
        str(folder), "--hospital", code, "--registry", str(onboarding.registry)
    )

    assert detected["proposed_connector"]["delimiter"] == ","
    assert detected["readable"]
    assert [d["setting"] for d in declared["disagreements"]] == ["delimiter"]
    assert declared["read_error_code"] == "wrong_delimiter"
    assert exit_code == 1


def test_one_file_with_another_delimiter_leaves_no_setting_that_reads_all(
    onboarding: Onboarding, copy_of
) -> None:
    folder = copy_of(onboarding.code_where(encoding="utf-8", header=True, date_era="gregorian"))
    service = folder / "SERVICE.txt"
    service.write_text(
        service.read_text(encoding="utf-8").replace(",", " ").replace("|", ";"), encoding="utf-8"
    )

    exit_code, report = check_json(str(folder))

    assert any(c.startswith("delimiter") and "SERVICE.txt" in c for c in report["conflicts"])
    assert exit_code == 1


def test_a_missing_file_fails_the_check(onboarding: Onboarding, copy_of) -> None:
    folder = copy_of(onboarding.code_where(encoding="tis-620"))
    (folder / "LABFU.txt").unlink()

    exit_code, report = check_json(str(folder))

    assert report["missing_files"] == ["LABFU.txt"]
    assert report["read_error_code"] == "missing_file"
    assert exit_code == 1


def test_no_extract_is_a_usage_error(tmp_path: Path) -> None:
    exit_code, output = healthlink("extract", "check", str(tmp_path))

    assert exit_code == 2
    assert "no extract" in output


def _registry_with(onboarding: Onboarding, tmp_path: Path, code: str, **connector: object) -> Path:
    """A copy of the registry whose hospital `code` declares other connector settings."""
    import shutil

    import yaml

    registry = tmp_path / "registry"
    shutil.copytree(onboarding.registry, registry)
    path = registry / "hospitals" / f"{code}.yml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["connector"].update(connector)
    document["connector"]["path"] = str(onboarding.extract(code).parent)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return registry
