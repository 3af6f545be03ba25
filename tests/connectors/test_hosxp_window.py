"""The day's window: rows changed from D minus the overlap to the end of D (Bangkok)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from tests.support.hosxp_database import HOSPITAL, HosxpHospital
from tests.support.machine import START

DAY = START + timedelta(days=2)  # overlap 2: the window starts at START 00:00


def add_visit(hosxp: HosxpHospital, vn: str, visited: date, updated: datetime | None) -> None:
    hn = hosxp.world.rows["patient"][0]["hn"]
    hosxp.insert(
        "ovst", [{"vn": vn, "hn": hn, "vstdate": visited, "vsttime": time(9, 0), "main_dep": "010"}]
    )
    hosxp.insert("ovst_seq", [{"vn": vn, "seq_id": vn, "update_datetime": updated}])
    hosxp.insert(
        "ovstdiag",
        [
            {
                "ovst_diag_id": 900000 + int(vn[-3:]),
                "vn": vn,
                "hn": hn,
                "icd10": "J00",
                "diagtype": "1",
            }
        ],
    )


def visits_read(hosxp: HosxpHospital, day: date, **settings: object) -> set[str]:
    extract = hosxp.connector(**settings).read(HOSPITAL, None, day)
    diagnosed = {
        row["encounter_id"]
        for row in extract.tables["diagnosis"].to_pylist()
        if row["source_file"] == "ovstdiag"
    }
    visits = {
        row["encounter_id"]
        for row in extract.tables["encounter"].to_pylist()
        if row["source_file"] == "ovst"
    }
    assert {vn for vn in diagnosed if vn.startswith("99")} == {
        vn for vn in visits if vn.startswith("99")
    }
    return visits


def test_a_visit_is_read_by_its_update_stamp_else_its_date(hosxp: HosxpHospital) -> None:
    old = START - timedelta(days=30)
    add_visit(hosxp, "990000000001", old, datetime.combine(DAY, time(10, 0)))  # updated in D
    add_visit(hosxp, "990000000002", old, datetime.combine(old, time(11, 0)))  # untouched since
    add_visit(hosxp, "990000000003", START, None)  # no stamp: D-2, inside the overlap
    add_visit(hosxp, "990000000004", START - timedelta(days=1), None)  # D-3: outside
    # visited on D but changed the next morning: that change belongs to D+1's extract
    add_visit(hosxp, "990000000005", DAY, datetime.combine(DAY + timedelta(days=1), time(8, 0)))
    # the last instant of D is in; midnight ending D is not
    add_visit(hosxp, "990000000006", DAY, datetime.combine(DAY, time(23, 59, 59)))
    add_visit(hosxp, "990000000007", DAY, datetime.combine(DAY + timedelta(days=1), time.min))
    # a zero stamp (HOSxP's "never") falls back to the visit date, as a null one does
    add_visit(hosxp, "990000000008", DAY, None)
    hosxp.execute(
        "UPDATE ovst_seq SET update_datetime = '0000-00-00 00:00:00' WHERE vn = '990000000008'"
    )

    read = visits_read(hosxp, DAY)
    ours = {vn for vn in read if vn.startswith("99")}
    assert ours == {"990000000001", "990000000003", "990000000006", "990000000008"}
    synthetic = {v["vn"] for v in hosxp.world.rows["ovst"]}
    assert synthetic <= read  # every synthetic visit was stamped inside the window

    wider = visits_read(hosxp, DAY, overlap_days=3)
    assert {vn for vn in wider if vn.startswith("99")} == ours | {"990000000004"}
    tomorrow = visits_read(hosxp, DAY + timedelta(days=1), overlap_days=0)
    assert {vn for vn in tomorrow if vn.startswith("99")} == {"990000000005", "990000000007"}
    encounters = hosxp.connector().read(HOSPITAL, None, DAY).tables["encounter"].to_pylist()
    zero_stamped = next(e for e in encounters if e["encounter_id"] == "990000000008")
    assert zero_stamped["recorded_at"] is None and zero_stamped["invalid_fields"] is None


def test_the_overlap_reads_the_days_before_again(hosxp: HosxpHospital) -> None:
    by_day = {
        day: {v["vn"] for v in hosxp.world.rows["ovst"] if v["vstdate"] == day}
        for day in hosxp.world.days
    }
    assert visits_read(hosxp, DAY, overlap_days=0) == by_day[DAY]
    assert visits_read(hosxp, DAY, overlap_days=1) == by_day[DAY] | by_day[DAY - timedelta(days=1)]
    assert visits_read(hosxp, START - timedelta(days=1)) == set()


def test_patients_come_with_a_change_or_a_visit_in_the_window(hosxp: HosxpHospital) -> None:
    quiet = hosxp.world.rows["patient"][-1]["hn"]
    hosxp.execute("DELETE FROM ovst WHERE hn = %s", (quiet,))
    hosxp.execute(
        "UPDATE patient SET last_update = %s WHERE hn = %s", (datetime(2020, 1, 1), quiet)
    )
    read = hosxp.connector().read(HOSPITAL, None, DAY).tables["patient"].column("hn").to_pylist()
    assert quiet not in read
    hosxp.execute(
        "UPDATE patient SET last_update = %s WHERE hn = %s",
        (datetime.combine(DAY, time(12)), quiet),
    )
    read = hosxp.connector().read(HOSPITAL, None, DAY).tables["patient"].column("hn").to_pylist()
    assert quiet in read
