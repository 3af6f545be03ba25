"""Extracts that cannot be read as a whole raise ExtractError, never quoting personal data."""

from __future__ import annotations

import pytest

from connectors.base import ExtractError
from connectors.file43 import File43Connector, File43Settings
from tests.support.file43_extracts import CID_A, EXTRACT_DATE, HOSPITAL, write_extract, write_file

THAI_NAME = "สมชาย"


def _read(root, folder, **settings):
    return File43Connector(File43Settings(path=root, **settings)).read(
        HOSPITAL, folder, EXTRACT_DATE
    )


def _assert_no_personal_data(error: ExtractError) -> None:
    text = str(error)
    assert CID_A not in text and THAI_NAME not in text and "Somchai" not in text


def test_undecodable_utf8_names_file_and_line(tmp_path):
    folder = write_extract(tmp_path, {"PERSON": [{}, {"PID": "P2"}, {"PID": "P3"}]})
    path = folder / "PERSON.txt"
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b"Somchai", b"Som\xffchai")  # line 4 (header is line 1)
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ExtractError) as caught:
        _read(tmp_path, folder)
    error = caught.value
    assert (error.reason_code, error.source_file, error.source_line) == (
        "invalid_encoding",
        "PERSON.txt",
        4,
    )
    assert "PERSON.txt" in str(error) and "line 4" in str(error)
    _assert_no_personal_data(error)


def test_utf8_file_declared_tis620_is_an_error(tmp_path):
    folder = write_extract(tmp_path, {"PERSON": [{}, {"NAME": THAI_NAME}]})
    with pytest.raises(ExtractError) as caught:
        _read(tmp_path, folder, encoding="tis-620")
    assert caught.value.reason_code == "invalid_encoding"
    assert (caught.value.source_file, caught.value.source_line) == ("PERSON.txt", 3)
    _assert_no_personal_data(caught.value)


def test_tis620_bytes_undefined_in_the_standard_are_an_error(tmp_path):
    folder = write_extract(tmp_path, encoding="tis-620")
    path = folder / "DRUG_OPD.txt"
    path.write_bytes(path.read_bytes() + b"99999|P1|S2|20240301||1|\xfc|1|tab||||D1||1\n")
    with pytest.raises(ExtractError) as caught:
        _read(tmp_path, folder, encoding="tis-620")
    assert (caught.value.reason_code, caught.value.source_line) == ("invalid_encoding", 3)


def test_tis620_declared_file_is_transcoded(tmp_path):
    folder = write_extract(
        tmp_path,
        {
            "PERSON": [{"NAME": THAI_NAME, "LNAME": "ใจดี", "PRENAME": "นาย"}],
            "DRUGALLERGY": [{"SYMPTOM": "ผื่นคัน"}],
        },
        encoding="tis-620",
    )
    assert THAI_NAME.encode("tis_620") in (folder / "PERSON.txt").read_bytes()
    extract = _read(tmp_path, folder, encoding="tis-620")
    person = extract.tables["patient"].to_pylist()[0]
    assert (person["prename"], person["first_name"], person["last_name"]) == (
        "นาย",
        THAI_NAME,
        "ใจดี",
    )
    assert extract.tables["allergy"].column("symptom").to_pylist() == ["ผื่นคัน"]


@pytest.mark.parametrize("delimiter", [",", "\t"])
@pytest.mark.parametrize("header", [True, False])
def test_wrong_delimiter(tmp_path, delimiter, header):
    folder = write_extract(tmp_path, header=header)
    path = folder / "SERVICE.txt"
    path.write_text(path.read_text().replace("|", delimiter))
    with pytest.raises(ExtractError) as caught:
        _read(tmp_path, folder, header=header)
    assert caught.value.reason_code == "wrong_delimiter"
    assert (caught.value.source_file, caught.value.source_line) == ("SERVICE.txt", 1)
    _assert_no_personal_data(caught.value)


def test_missing_file(tmp_path):
    folder = write_extract(tmp_path)
    (folder / "LABFU.txt").unlink()
    with pytest.raises(ExtractError) as caught:
        _read(tmp_path, folder)
    assert (caught.value.reason_code, caught.value.source_file) == ("missing_file", "LABFU.txt")
    with pytest.raises(ExtractError) as caught:
        File43Connector(File43Settings(path=tmp_path)).discover(folder)
    assert caught.value.reason_code == "missing_file"


def test_missing_extract_folder(tmp_path):
    with pytest.raises(ExtractError) as caught:
        _read(tmp_path, tmp_path / "2024-01-01")
    assert caught.value.reason_code == "missing_file"


def test_header_missing_a_required_column(tmp_path):
    from connectors.file43.layout import LAYOUTS

    folder = write_extract(tmp_path)
    fields = tuple(f for f in LAYOUTS["DIAGNOSIS_OPD"].fields if f != "DIAGCODE")
    write_file(folder, "DIAGNOSIS_OPD", [{}], fields=fields)
    with pytest.raises(ExtractError) as caught:
        _read(tmp_path, folder)
    error = caught.value
    assert (error.reason_code, error.field, error.source_file) == (
        "missing_column",
        "DIAGCODE",
        "DIAGNOSIS_OPD.txt",
    )
    assert "DIAGCODE" in str(error)


def test_headerless_file_with_too_few_fields(tmp_path):
    from connectors.file43.layout import LAYOUTS

    folder = write_extract(tmp_path, header=False)
    fields = LAYOUTS["LABFU"].fields[:-1]  # no CID
    write_file(folder, "LABFU", [{}, {}], header=False, fields=fields)
    with pytest.raises(ExtractError) as caught:
        _read(tmp_path, folder, header=False)
    assert (caught.value.reason_code, caught.value.field) == ("missing_column", "CID")
    _assert_no_personal_data(caught.value)


def test_header_row_in_a_file_declared_headerless(tmp_path):
    folder = write_extract(tmp_path, header=False)
    write_file(folder, "EPI", [{}], header=True)
    with pytest.raises(ExtractError) as caught:
        _read(tmp_path, folder, header=False)
    assert (caught.value.reason_code, caught.value.source_file) == ("unreadable", "EPI.txt")


def test_headerless_data_in_a_file_declared_with_header(tmp_path):
    folder = write_extract(tmp_path)
    write_file(folder, "EPI", [{}], header=False)
    with pytest.raises(ExtractError) as caught:
        _read(tmp_path, folder)
    assert caught.value.reason_code == "missing_column"
    _assert_no_personal_data(caught.value)


def test_rejected_lines_keep_no_content(read_extract):
    extract = read_extract({"PERSON": [{}, f"99999|{CID_A}|P9|short"]})
    [rejected] = extract.rejected
    assert rejected.location.line == 3
    assert CID_A not in repr(rejected)
    assert extract.tables["patient"].num_rows == 1


def test_empty_files_give_empty_tables(tmp_path):
    folder = write_extract(tmp_path, default_rows=False)
    (folder / "IMAGING.txt").write_bytes(b"")
    extract = _read(tmp_path, folder)
    assert all(t.num_rows == 0 for t in extract.tables.values())
    assert len(extract.files) == 14


def test_duplicate_unknown_header_columns_are_ignored(tmp_path):
    from connectors.file43.layout import LAYOUTS

    folder = write_extract(tmp_path)
    write_file(folder, "EPI", [{}], fields=(*LAYOUTS["EPI"].fields, "X", "X"))
    assert _read(tmp_path, folder).tables["immunization"].num_rows == 1
    write_file(folder, "EPI", [{}], fields=(*LAYOUTS["EPI"].fields, "PID"))
    with pytest.raises(ExtractError) as caught:
        _read(tmp_path, folder)
    assert (caught.value.reason_code, caught.value.field) == ("unreadable", "PID")
