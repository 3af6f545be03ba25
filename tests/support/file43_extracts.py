"""Writers of small 43-file extracts (synthetic data only) for the connector tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

from connectors.file43.layout import FILE_NAMES, LAYOUTS

EXTRACT_DATE = date(2024, 3, 1)
HOSPITAL = "99999"
# Synthetic identifiers: not real people.
CID_A = "1100000000011"
CID_B = "1100000000029"

# One complete, valid row per file (Gregorian dates); tests override single fields.
DEFAULTS: dict[str, dict[str, str]] = {
    "PERSON": {
        "HOSPCODE": HOSPITAL,
        "CID": CID_A,
        "PID": "P1",
        "PRENAME": "003",
        "NAME": "Somchai",
        "LNAME": "Testdata",
        "HN": "HN1",
        "SEX": "1",
        "BIRTH": "19800115",
        "D_UPDATE": "20240301083000",
    },
    "SERVICE": {
        "HOSPCODE": HOSPITAL,
        "PID": "P1",
        "HN": "HN1",
        "SEQ": "S1",
        "DATE_SERV": "20240301",
        "TIME_SERV": "093000",
        "CHIEFCOMP": "fever",
        "SERVPLACE": "1",
        "BTEMP": "37.5",
        "SBP": "120",
        "DBP": "80",
        "PR": "72",
        "RR": "18",
        "TYPEOUT": "1",
        "D_UPDATE": "20240301100000",
        "CID": CID_A,
    },
    "ADMISSION": {
        "HOSPCODE": HOSPITAL,
        "PID": "P1",
        "SEQ": "S9",
        "AN": "A1",
        "DATETIME_ADMIT": "20240228140000",
        "WARDADMIT": "W1",
        "DATETIME_DISCH": "20240301110000",
        "DISCHSTATUS": "1",
        "D_UPDATE": "20240301120000",
        "DRG": "01234",
        "CID": CID_A,
    },
    "DIAGNOSIS_OPD": {
        "HOSPCODE": HOSPITAL,
        "PID": "P1",
        "SEQ": "S1",
        "DATE_SERV": "20240301",
        "DIAGTYPE": "1",
        "DIAGCODE": "J069",
        "PROVIDER": "D1",
        "D_UPDATE": "20240301100000",
        "CID": CID_A,
    },
    "DIAGNOSIS_IPD": {
        "HOSPCODE": HOSPITAL,
        "PID": "P1",
        "AN": "A1",
        "DATETIME_ADMIT": "20240228140000",
        "DIAGTYPE": "1",
        "DIAGCODE": "J189",
        "PROVIDER": "D1",
        "D_UPDATE": "20240301120000",
        "CID": CID_A,
    },
    "DRUG_OPD": {
        "HOSPCODE": HOSPITAL,
        "PID": "P1",
        "SEQ": "S1",
        "DATE_SERV": "20240301",
        "DIDSTD": "100000000000000000000001",
        "DNAME": "Paracetamol 500 mg",
        "AMOUNT": "20",
        "UNIT": "tab",
        "PROVIDER": "D1",
        "D_UPDATE": "20240301100000",
        "CID": CID_A,
    },
    "DRUG_IPD": {
        "HOSPCODE": HOSPITAL,
        "PID": "P1",
        "AN": "A1",
        "DATETIME_ADMIT": "20240228140000",
        "TYPEDRUG": "1",
        "DIDSTD": "100000000000000000000002",
        "DNAME": "Ceftriaxone 1 g",
        "DATESTART": "20240229",
        "AMOUNT": "2",
        "UNIT": "vial",
        "PROVIDER": "D1",
        "D_UPDATE": "20240301120000",
        "CID": CID_A,
    },
    "PROCEDURE_OPD": {
        "HOSPCODE": HOSPITAL,
        "PID": "P1",
        "SEQ": "S1",
        "DATE_SERV": "20240301",
        "PROCEDCODE": "9671",
        "PROVIDER": "D1",
        "D_UPDATE": "20240301100000",
        "CID": CID_A,
    },
    "PROCEDURE_IPD": {
        "HOSPCODE": HOSPITAL,
        "PID": "P1",
        "AN": "A1",
        "DATETIME_ADMIT": "20240228140000",
        "PROCEDCODE": "8938",
        "TIMESTART": "20240228150000",
        "PROVIDER": "D1",
        "D_UPDATE": "20240301120000",
        "CID": CID_A,
    },
    "LABFU": {
        "HOSPCODE": HOSPITAL,
        "PID": "P1",
        "SEQ": "S1",
        "DATE_SERV": "20240301",
        "LABTEST": "0531002",
        "LABRESULT": "5.4",
        "D_UPDATE": "20240301100000",
        "CID": CID_A,
    },
    "EPI": {
        "HOSPCODE": HOSPITAL,
        "PID": "P1",
        "SEQ": "S1",
        "DATE_SERV": "20240301",
        "VACCINETYPE": "010",
        "VACCINEPLACE": HOSPITAL,
        "PROVIDER": "D1",
        "D_UPDATE": "20240301100000",
        "CID": CID_A,
    },
    "DRUGALLERGY": {
        "HOSPCODE": HOSPITAL,
        "PID": "P1",
        "DATERECORD": "20230510",
        "DRUGALLERGY": "100000000000000000000003",
        "DNAME": "Amoxicillin",
        "TYPEDX": "1",
        "ALEVEL": "3",
        "SYMPTOM": "rash",
        "INFORMANT": "1",
        "D_UPDATE": "20240301100000",
        "CID": CID_A,
    },
    "NCDSCREEN": {
        "HOSPCODE": HOSPITAL,
        "PID": "P1",
        "SEQ": "S1",
        "DATE_SERV": "20240301",
        "WEIGHT": "65.5",
        "HEIGHT": "170",
        "WAIST_CM": "82",
        "SBP_1": "130",
        "DBP_1": "85",
        "BSLEVEL": "98",
        "D_UPDATE": "20240301100000",
        "CID": CID_A,
    },
    "IMAGING": {
        "HOSPCODE": HOSPITAL,
        "PID": "P1",
        "SEQ": "S1",
        "DATE_SERV": "20240301",
        "STUDYID": "ST1",
        "MODALITY": "CR",
        "BODYSITE": "chest",
        "STUDYCODE": "CXR",
        "CONCLUSION": "no active disease",
        "PROVIDER": "D1",
        "D_UPDATE": "20240301100000",
        "CID": CID_A,
    },
}

Row = Mapping[str, str] | str  # a mapping of overrides, or a literal line


def line_for(name: str, row: Row, fields: tuple[str, ...] | None = None) -> str:
    if isinstance(row, str):
        return row
    values = {**DEFAULTS[name], **row}
    return "|".join(values.get(f, "") for f in fields or LAYOUTS[name].fields)


def write_file(
    folder: Path,
    name: str,
    rows: list[Row],
    *,
    header: bool = True,
    encoding: str = "utf-8",
    fields: tuple[str, ...] | None = None,
    newline: str = "\n",
) -> Path:
    fields = fields or LAYOUTS[name].fields
    lines = (["|".join(fields)] if header else []) + [line_for(name, r, fields) for r in rows]
    path = folder / f"{name}.txt"
    path.write_bytes("".join(line + newline for line in lines).encode(encoding))
    return path


def write_extract(
    root: Path,
    files: Mapping[str, list[Row]] | None = None,
    *,
    header: bool = True,
    encoding: str = "utf-8",
    default_rows: bool = True,
) -> Path:
    """A complete extract folder: every file present; unlisted files get one default row."""
    folder = root / EXTRACT_DATE.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    files = files or {}
    for name in FILE_NAMES:
        rows = files.get(name, [{}] if default_rows else [])
        write_file(folder, name, list(rows), header=header, encoding=encoding)
    return folder
