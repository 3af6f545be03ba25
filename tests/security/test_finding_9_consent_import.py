"""Issue 9, finding 9: `healthlink consent import` on DuckDB and PostgreSQL, as a subprocess.

A bad line is reported by its physical line number (header and blank lines counted) with the
column and a reason, never its values; the good lines are imported; booleans are true/false
only; a file that cannot be read is a clear error naming the file, never a traceback; the exit
code is non-zero when anything was refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.cli_warehouse import H1, CliWarehouse
from tests.support.cli_warehouse import cli_warehouse as cli_warehouse  # the fixture
from tests.support.consent_kit import national_id
from tests.support.machine import TEST_KEY
from warehouse.clock import bangkok_today
from warehouse.pseudonym import patient_key

HEADER = (
    "cid,birth_date,registered_at,status,sender_scope,sender_networks,sender_hospitals,"
    "sensitive_allowed,verification_method,verified_at"
)


def _line(serial: int, *, birth: str = "1980-05-01", sensitive: str = "false") -> str:
    registered = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0, tzinfo=None)
    verified = registered - timedelta(minutes=10)
    return (
        f"{national_id(serial)},{birth},{registered.isoformat()},active,LIST,,{H1},"
        f"{sensitive},thaid,{verified.isoformat()}"
    )


def _registered_serials(warehouse: CliWarehouse, serials: list[int]) -> list[int]:
    """Serials registered in the warehouse: who-could-see lists every patient with an event."""
    code, answers = warehouse.run_json(
        "consent", "who-could-see", "--date", bangkok_today().isoformat()
    )
    assert code == 0
    registered = {answer["patient_key"] for answer in answers}
    key = TEST_KEY.encode()
    return [serial for serial in serials if patient_key(national_id(serial), key) in registered]


def test_finding_9_bad_lines_reported_by_physical_line_good_lines_imported(
    cli_warehouse: CliWarehouse, tmp_path: Path
) -> None:
    lines = [
        HEADER,  # 1
        _line(1),  # 2 good
        "",  # 3 blank: counted, not reported
        _line(2) + ",extra-field",  # 4 one field too many (it holds an ID and a birth date)
        _line(3, sensitive="maybe"),  # 5 not a boolean
        "",  # 6 blank
        _line(4, sensitive="1"),  # 7 1/0 are not booleans here (documented)
        _line(5, birth="1980-13-45"),  # 8 not a date
        f"{national_id(6)},1980-05-01",  # 9 too few fields
        _line(7, sensitive="TRUE"),  # 10 good (case does not matter)
        "   ",  # 11 blank (spaces)
        _line(8),  # 12 good
        _line(12).replace("thaid", "th\x00aid"),  # 13 a NUL byte (PostgreSQL cannot store it)
    ]
    path = tmp_path / "registrations.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")

    done = cli_warehouse.run("consent", "import", str(path), "--json")
    assert done.returncode == 1, done.stderr  # refused lines make the import non-zero
    assert "Traceback" not in done.stderr + done.stdout
    for serial in (*range(1, 9), 12):  # no line's values anywhere in the output
        assert national_id(serial) not in done.stdout + done.stderr
    assert "1980-13-45" not in done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["refused"] == [
        {"line": 4, "field": None, "reason": "wrong_field_count"},
        {"line": 5, "field": "sensitive_allowed", "reason": "not_true_or_false"},
        {"line": 7, "field": "sensitive_allowed", "reason": "not_true_or_false"},
        {"line": 8, "field": "birth_date", "reason": "malformed"},
        {"line": 9, "field": None, "reason": "wrong_field_count"},
        {"line": 13, "field": None, "reason": "unparsable"},
    ]
    assert (report["read"], report["imported"]) == (9, 3)
    assert report["read"] == report["imported"] + len(report["refused"])
    # The good lines are in, the refused ones registered nobody ("maybe" is not false).
    assert _registered_serials(cli_warehouse, list(range(1, 9))) == [1, 7, 8]
    # Once more: every line is now either refused or already registered; still no values.
    again = cli_warehouse.run("consent", "import", str(path))
    assert again.returncode == 1
    assert "line 2: already_registered (cid)" in again.stdout
    assert "line 5: not_true_or_false (sensitive_allowed)" in again.stdout
    assert national_id(1) not in again.stdout + again.stderr


def test_finding_9_unreadable_files_are_clear_errors(
    cli_warehouse: CliWarehouse, tmp_path: Path
) -> None:
    cases: dict[str, tuple[Path, str]] = {}

    def case(name: str, content: bytes | None, expected: str) -> None:
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        cases[name] = (path, expected)

    case("missing.csv", None, "no such file")
    (tmp_path / "a-directory.csv").mkdir()
    cases["a-directory.csv"] = (tmp_path / "a-directory.csv", "is a directory")
    case("empty.csv", b"", "empty")
    thai = "ทดสอบ".encode("tis-620")  # a TIS-620 file, not UTF-8
    case("tis620.csv", (HEADER + "\n" + _line(9) + "," + "\n").encode() + thai, "not UTF-8")
    # No header: the first line is a person. The message must not repeat it.
    case("headerless.csv", (_line(10) + "\n" + _line(11) + "\n").encode(), "bad header")
    case("misspelt.csv", (HEADER.replace("cid", "cdi") + "\n").encode(), "missing column(s) cid")

    for name, (path, expected) in cases.items():
        done = cli_warehouse.run("consent", "import", str(path))
        output = done.stdout + done.stderr
        assert done.returncode == 2, (name, output)
        assert "Traceback" not in output, name
        assert str(path) in output and expected in output, (name, output)
        for serial in (9, 10, 11):
            assert national_id(serial) not in output, name
    code, body = cli_warehouse.run_json("consent", "import", str(tmp_path / "missing.csv"))
    assert code == 2 and body["refused"] == "bad_file"
