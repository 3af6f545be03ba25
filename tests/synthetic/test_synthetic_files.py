"""Layout of what the generator writes: folders, files, field counts, headers, manifest counts."""

from __future__ import annotations

from datetime import date, timedelta

from stdnum.th import pin

from synthetic.layout import FILE_FIELDS, FILE_NAMES
from tests.support.synthetic_dataset import START, Dataset

DATE_FIELDS = {"BIRTH", "DATE_SERV", "DATETIME_ADMIT", "DATETIME_DISCH", "D_UPDATE",
               "DATERECORD", "DATESTART", "DATEFINISH", "TIMESTART", "TIMEFINISH"}


def as_date(text: str, buddhist: bool) -> date:
    year = int(text[:4]) - (543 if buddhist else 0)
    return date(year, int(text[4:6]), int(text[6:8]))


def test_registry_and_every_file_of_every_folder_exist(clean: Dataset) -> None:
    assert (clean.root / "registry" / "networks.yml").exists()
    assert len(clean.hospitals) == 5
    assert clean.days == [(START + timedelta(days=d)).isoformat() for d in range(3)]
    for hospital in clean.hospitals:
        for day in clean.days:
            for name in FILE_NAMES:
                assert clean.path(hospital, day, name).exists(), (hospital.code, day, name)


def test_every_line_has_the_field_count_of_its_file(clean: Dataset) -> None:
    headerless = [h for h in clean.hospitals if not h.header]
    assert headerless, "expected a headerless hospital"
    for hospital in clean.hospitals:
        for day in clean.days:
            for name in FILE_NAMES:
                lines = clean.lines(hospital, day, name)  # also checks the header line
                assert all(len(fields) == len(FILE_FIELDS[name]) for fields in lines), name
                assert all(f[0] == hospital.code for f in lines)
                assert len(lines) == clean.manifest["files"][hospital.code][day][name]


def test_headerless_files_start_with_data(clean: Dataset) -> None:
    hospital = clean.hospital(header=False)
    first = clean.path(hospital, clean.days[0], "PERSON").read_text(encoding="utf-8")
    assert first.startswith(hospital.code + "|")


def test_first_day_holds_history_later_days_only_that_day(clean: Dataset) -> None:
    for hospital in clean.hospitals:
        first = clean.records(hospital, clean.days[0], "SERVICE")
        served = {as_date(r["DATE_SERV"], hospital.buddhist) for r in first}
        assert min(served) < START - timedelta(days=365)
        assert max(served) <= START
        for day in clean.days[1:]:
            for r in clean.records(hospital, day, "SERVICE"):
                assert as_date(r["DATE_SERV"], hospital.buddhist).isoformat() == day
            # PERSON rows on later days are exactly the patients who came that day.
            came = {r["PID"] for r in clean.records(hospital, day, "SERVICE")}
            assert {r["PID"] for r in clean.records(hospital, day, "PERSON")} == came


def test_no_date_after_the_folder_date_without_errors(clean: Dataset) -> None:
    for hospital in clean.hospitals:
        for day in clean.days:
            limit = date.fromisoformat(day)
            for name in FILE_NAMES:
                for record in clean.records(hospital, day, name):
                    for field in DATE_FIELDS & record.keys():
                        if record[field]:
                            assert as_date(record[field], hospital.buddhist) <= limit, (
                                hospital.code, day, name, field)


def test_buddhist_era_hospital_writes_years_plus_543(clean: Dataset) -> None:
    buddhist = clean.hospital(buddhist=True)
    births = {}
    for hospital in clean.hospitals:
        for r in clean.records(hospital, clean.days[0], "PERSON"):
            births.setdefault(r["CID"], {})[hospital.buddhist] = r["BIRTH"]
    both = [b for b in births.values() if len(b) == 2]
    assert both, "expected patients seen by both a Buddhist-era and a Gregorian hospital"
    for b in both:
        assert int(b[True]) == int(b[False]) + 543 * 10_000
    years = {int(r["DATE_SERV"][:4]) for r in clean.records(buddhist, clean.days[0], "SERVICE")}
    assert years <= set(range(START.year - 3 + 543, START.year + 544))


def test_tis620_hospital_decodes_strictly_as_tis620_and_not_as_utf8(clean: Dataset) -> None:
    hospital = clean.hospital(encoding="tis-620")
    raw = clean.path(hospital, clean.days[0], "PERSON").read_bytes()
    text = raw.decode("tis_620")  # strict: raises on any byte outside TIS-620
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in text)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        raise AssertionError("a TIS-620 file with Thai text must not be valid UTF-8")
    utf8 = clean.hospital(encoding="utf-8", header=True, buddhist=False)
    clean.path(utf8, clean.days[0], "PERSON").read_bytes().decode("utf-8")


def test_hospital_zero_is_plain(clean: Dataset) -> None:
    first = clean.manifest["hospitals"][0]
    assert (first["encoding"], first["date_era"], first["header"]) == ("utf-8", "gregorian", True)


def test_person_cids_are_valid_and_unique_per_hospital(clean: Dataset) -> None:
    for hospital in clean.hospitals:
        cids = [r["CID"] for r in clean.records(hospital, clean.days[0], "PERSON")]
        assert len(cids) == len(set(cids))
        assert all(len(c) == 13 and c[0] in "12345678" and pin.is_valid(c) for c in cids)
        pids = [r["PID"] for r in clean.records(hospital, clean.days[0], "PERSON")]
        assert len(pids) == len(set(pids))


def test_no_invalid_cid_anywhere_when_error_rate_is_zero(clean: Dataset) -> None:
    for hospital in clean.hospitals:
        for day in clean.days:
            for name in FILE_NAMES:
                for r in clean.records(hospital, day, name):
                    assert pin.is_valid(r["CID"]), (hospital.code, day, name)
    assert sum(clean.manifest["errors"]["totals"].values()) == 0
