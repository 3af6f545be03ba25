"""Consent registrations: adults only, well-formed, referring to real networks and hospitals."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import yaml
from stdnum.th import pin

from tests.support.synthetic_dataset import START, Dataset

COLUMNS = ["cid", "birth_date", "registered_at", "status", "sender_scope", "sender_networks",
           "sender_hospitals", "sensitive_allowed", "verification_method", "verified_at"]


def births(data: Dataset) -> dict[str, date]:
    found = {}
    for hospital in data.hospitals:
        for r in data.records(hospital, data.days[0], "PERSON"):
            year = int(r["BIRTH"][:4]) - (543 if hospital.buddhist else 0)
            found[r["CID"]] = date(year, int(r["BIRTH"][4:6]), int(r["BIRTH"][6:8]))
    return found


def age_at(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def test_registrations_parse(clean: Dataset) -> None:
    rows = clean.registrations()
    header = (clean.root / "consent" / "registrations.csv").read_text().splitlines()[0]
    assert header.split(",") == COLUMNS
    networks = {n["code"] for n in yaml.safe_load(
        (clean.root / "registry" / "networks.yml").read_text(encoding="utf-8"))["networks"]}
    hospitals = {h.code for h in clean.hospitals}
    assert rows
    for row in rows:
        assert pin.is_valid(row["cid"])
        assert row["status"] in {"active", "withdrawn"}
        assert row["sensitive_allowed"] in {"true", "false"}
        assert row["verification_method"] in {"dopa_face", "thaid"}
        registered = datetime.fromisoformat(row["registered_at"])
        assert datetime.fromisoformat(row["verified_at"]) < registered
        assert registered.date() < START
        listed_networks = set(filter(None, row["sender_networks"].split(";")))
        listed_hospitals = set(filter(None, row["sender_hospitals"].split(";")))
        assert listed_networks <= networks and listed_hospitals <= hospitals
        if row["sender_scope"] == "ALL":
            assert not listed_networks and not listed_hospitals
        else:
            assert row["sender_scope"] == "LIST" and (listed_networks or listed_hospitals)
    assert len({r["cid"] for r in rows}) == len(rows)


def test_only_adults_register_and_most_do(clean: Dataset) -> None:
    born = births(clean)
    registered = {r["cid"] for r in clean.registrations()}
    assert all(age_at(born[cid], START) >= 18 for cid in registered)
    # Issue 9 #10: only Thai ID card holders (categories 1-5 and 8) register.
    assert all(cid[0] in "123458" for cid in registered)
    adults = [cid for cid, b in born.items() if age_at(b, START) >= 18 and cid[0] in "123458"]
    assert 0.75 < len(registered) / len(adults) < 0.95


def test_rows_pass_the_consent_rules_on_their_registration_day(clean: Dataset) -> None:
    """Age 18+ and participating hospitals, judged on the Bangkok day of registered_at (UTC)."""
    born = births(clean)
    joined = {h.code: h for h in clean.hospitals}
    since = {
        code: date.fromisoformat(str(yaml.safe_load(
            (clean.root / "registry" / "hospitals" / f"{code}.yml").read_text(encoding="utf-8")
        )["participating_since"]))
        for code in joined
    }
    for row in clean.registrations():
        day = (datetime.fromisoformat(row["registered_at"]) + timedelta(hours=7)).date()
        assert date.fromisoformat(row["birth_date"]) == born[row["cid"]]
        assert age_at(born[row["cid"]], day) >= 18
        for code in filter(None, row["sender_hospitals"].split(";")):
            assert since[code] <= day


def test_consent_mix(clean: Dataset) -> None:
    rows = clean.registrations()
    share = lambda key, value: sum(r[key] == value for r in rows) / len(rows)  # noqa: E731
    assert 0.45 < share("sender_scope", "ALL") < 0.75
    assert 0.15 < share("sensitive_allowed", "true") < 0.45
    assert share("status", "withdrawn") < 0.12
    counts = clean.manifest["consent"]
    assert counts["registrations"] == len(rows)
