"""Dates, datetimes and numbers: era conversion, plausibility and invalid_fields."""

from __future__ import annotations

import datetime as dt

import pytest


def _patient(read_extract, era="gregorian", **person):
    if era == "buddhist":
        person.setdefault("D_UPDATE", "25670301083000")
    extract = read_extract({"PERSON": [person]}, era=era)
    return extract.tables["patient"].to_pylist()[0]


def test_buddhist_era_is_converted(read_extract):
    extract = read_extract(
        {
            "PERSON": [{"BIRTH": "25230115", "D_UPDATE": "25670301083000"}],
            "SERVICE": [{"DATE_SERV": "25670229", "TIME_SERV": "235959"}],  # 2024 is a leap year
            "ADMISSION": [{"DATETIME_ADMIT": "25670228140000", "DATETIME_DISCH": "25670301"}],
        },
        era="buddhist",
    )
    person = extract.tables["patient"].to_pylist()[0]
    assert person["birth_date"] == dt.date(1980, 1, 15)
    assert person["recorded_at"] == dt.datetime(2024, 3, 1, 8, 30)
    assert person["invalid_fields"] is None
    opd, ipd = extract.tables["encounter"].to_pylist()
    assert opd["service_date"] == dt.date(2024, 2, 29)
    assert opd["start_at"] == dt.datetime(2024, 2, 29, 23, 59, 59)
    assert ipd["start_at"] == dt.datetime(2024, 2, 28, 14, 0)
    assert ipd["end_at"] == dt.datetime(2024, 3, 1)  # date only in a datetime field: midnight


@pytest.mark.parametrize(
    ("era", "birth", "expected"),
    [
        ("gregorian", "19800115", dt.date(1980, 1, 15)),
        ("gregorian", "25230115", None),  # Buddhist year from a Gregorian hospital
        ("buddhist", "19800115", None),  # Gregorian year from a Buddhist hospital
        ("buddhist", "25230115", dt.date(1980, 1, 15)),
        ("gregorian", "24000101", dt.date(2400, 1, 1)),  # the boundary itself is allowed
        ("gregorian", "00000000", None),
    ],
)
def test_the_declared_era_is_authoritative(read_extract, era, birth, expected):
    person = _patient(read_extract, era=era, BIRTH=birth)
    assert person["birth_date"] == expected
    assert person["invalid_fields"] == (None if expected else "birth_date")


@pytest.mark.parametrize(
    "bad", ["20230229", "20240230", "20241301", "20240100", "2024-01-05", "2024015", "abcdefgh"]
)
def test_unreadable_dates_are_null_and_named(read_extract, bad):
    person = _patient(read_extract, BIRTH=bad)
    assert person["birth_date"] is None
    assert person["invalid_fields"] == "birth_date"


@pytest.mark.parametrize("bad", ["20240301250000", "20240301126000", "20240301125960", "2024"])
def test_unreadable_datetimes_are_null_and_named(read_extract, bad):
    person = _patient(read_extract, D_UPDATE=bad)
    assert person["recorded_at"] is None
    assert person["invalid_fields"] == "recorded_at"


def test_several_invalid_fields_are_comma_separated(read_extract):
    extract = read_extract({"SERVICE": [{"DATE_SERV": "20241399", "D_UPDATE": "x"}, {}]})
    bad, good, _admission = extract.tables["encounter"].to_pylist()
    assert bad["invalid_fields"] == "recorded_at,service_date,start_at"
    assert good["invalid_fields"] is None


def test_bad_time_only_invalidates_start_at(read_extract):
    extract = read_extract({"SERVICE": [{"TIME_SERV": "9:30"}]})
    row = extract.tables["encounter"].to_pylist()[0]
    assert row["service_date"] == dt.date(2024, 3, 1)
    assert row["start_at"] is None and row["invalid_fields"] == "start_at"


def test_non_numeric_quantity_is_invalid(read_extract):
    extract = read_extract({"DRUG_OPD": [{"AMOUNT": "ten"}, {"AMOUNT": " 1.5 "}, {"AMOUNT": ""}]})
    rows = [
        r
        for r in extract.tables["medication_dispense"].to_pylist()
        if r["encounter_class"] == "OPD"
    ]
    assert [(r["quantity"], r["invalid_fields"]) for r in rows] == [
        (None, "quantity"),
        (1.5, None),
        (None, None),
    ]


def test_invalid_drug_start_date_is_not_replaced_by_the_admit_date(read_extract):
    extract = read_extract({"DRUG_IPD": [{"DATESTART": "20240231"}]})
    row = next(
        r
        for r in extract.tables["medication_dispense"].to_pylist()
        if r["encounter_class"] == "IPD"
    )
    assert row["service_date"] is None and row["invalid_fields"] == "service_date"
