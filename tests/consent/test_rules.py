"""The consent rules as pure checks (no database): eligibility, choices, the Bangkok day."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from tests.support.consent_kit import (
    DAY0,
    H1,
    H4,
    H4_JOINS,
    H5,
    NET01,
    bkk,
    key_of,
    registration,
    registry,
)
from warehouse.clock import bangkok_day, end_of_bangkok_day
from warehouse.consent import ConsentRefused, Participation, SenderChoice, fold
from warehouse.consent.rules import (
    age_on,
    check_registration,
    check_rejoin,
    check_sources_change,
    check_withdrawal,
)

TODAY = Participation.from_registry(registry(), bangkok_day(DAY0))


def _refusal(call, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ConsentRefused) as caught:
        call(*args, **kwargs)
    assert caught.value.message  # a sentence for people
    return caught.value.reason_code


def _register(reg, now=DAY0):  # type: ignore[no-untyped-def]
    if reg.verified_at > now and reg.verification_method.strip() and now != DAY0:
        reg = replace(reg, verified_at=now - timedelta(minutes=5))  # verified just before
    return check_registration(reg, None, key_of(1), TODAY, now, "test")


def test_invalid_national_id_is_refused_without_echoing_it() -> None:
    reg = registration(1)
    bad = replace(reg, national_id="1234567890123", verified_national_id="1234567890123")
    with pytest.raises(ConsentRefused) as caught:
        _register(bad)
    assert caught.value.reason_code == "invalid_national_id"
    assert "1234567890123" not in str(caught.value)


@pytest.mark.parametrize("category", "67")
def test_only_thai_id_card_numbers_register(category: str) -> None:
    """Issue 9 #10: categories 6 and 7 (non-Thai residents) hold valid IDs but do not
    register, even when the caller checked the ID already (the bulk import)."""
    body = f"{category}{'1' * 11}"
    total = sum(int(d) * w for d, w in zip(body, range(13, 1, -1), strict=True))
    foreign = body + str((11 - total % 11) % 10)
    reg = replace(registration(1), national_id=foreign, verified_national_id=foreign)
    for checked in (False, True):
        with pytest.raises(ConsentRefused) as caught:
            check_registration(
                reg, None, key_of(1), TODAY, DAY0, "test", national_id_checked=checked
            )
        assert caught.value.reason_code == "not_thai_card" and foreign not in str(caught.value)
    assert _register(registration(1)).event_type == "registered"  # first digit 1


def test_age_18_judged_on_the_bangkok_day() -> None:
    assert age_on(date(2007, 2, 10), date(2025, 2, 9)) == 17
    assert age_on(date(2007, 2, 10), date(2025, 2, 10)) == 18
    # 00:30 in Bangkok on the 18th birthday is still the 9th in UTC: Bangkok decides.
    just_after_midnight = bkk(2025, 2, 10, 0, 30)
    assert just_after_midnight.day == 9
    reg = registration(1, birth_date=date(2007, 2, 10), verified_at=just_after_midnight)
    assert _register(reg, just_after_midnight).event_type == "registered"
    younger = registration(1, birth_date=date(2007, 2, 11))
    assert _refusal(_register, younger) == "under_age"


def test_nobody_registers_on_someone_elses_behalf() -> None:
    assert _refusal(_register, registration(1, verified_serial=2)) == "not_self"


def test_verification_is_required_and_not_in_the_future() -> None:
    assert _refusal(_register, registration(1, method=" ")) == "verification_missing"
    future = registration(1, verified_at=DAY0 + timedelta(minutes=1))
    assert _refusal(_register, future) == "verification_missing"
    event = _register(registration(1))
    assert event.verification_method == "thaid"
    assert event.verified_at == DAY0 - timedelta(minutes=5)


def test_one_registration_per_person() -> None:
    state = fold([_register(registration(1))])[key_of(1)]
    with pytest.raises(ConsentRefused) as caught:
        check_registration(registration(1), state, key_of(1), TODAY, DAY0, "test")
    assert caught.value.reason_code == "already_registered"


@pytest.mark.parametrize(
    ("choice", "reason"),
    [
        (SenderChoice.of(hospitals={H5}), "not_participating"),  # registered, never joined
        (SenderChoice.of(hospitals={H4}), "not_participating"),  # joins in March
        (SenderChoice.of(hospitals={"99999"}), "not_participating"),
        (SenderChoice.of(networks={"NOPE"}), "unknown_network"),
        (SenderChoice.of(), "empty_choice"),
    ],
)
def test_choice_names_only_participating_hospitals_and_known_networks(
    choice: SenderChoice, reason: str
) -> None:
    assert _refusal(_register, registration(1, choice)) == reason


def test_registration_payload_holds_no_identity() -> None:
    reg = registration(1, SenderChoice.of(networks={NET01}, hospitals={H1}))
    event = _register(reg)
    text = event.payload_json()
    assert reg.national_id not in text and "1980" not in text
    assert event.payload["choice"] == {"scope": "LIST", "networks": [NET01], "hospitals": [H1]}


def test_list_changes_once_per_bangkok_day_registration_counts() -> None:
    registered = bkk(2025, 2, 10, 9, 0)
    state = fold([_register(registration(1), registered)])[key_of(1)]
    new_choice = SenderChoice.of(hospitals={H1})
    late = bkk(2025, 2, 10, 23, 59)  # 16:59 UTC
    early = bkk(2025, 2, 11, 0, 1)  # 17:01 UTC, the next Bangkok day
    assert (late.hour, late.minute, early.hour, early.minute) == (16, 59, 17, 1)
    with pytest.raises(ConsentRefused) as caught:
        check_sources_change(state, new_choice, TODAY, late, "test")
    assert caught.value.reason_code == "changed_today"
    event = check_sources_change(state, new_choice, TODAY, early, "test")
    changed = fold([_register(registration(1), registered), event])[key_of(1)]
    with pytest.raises(ConsentRefused) as again:
        check_sources_change(changed, SenderChoice.everyone(), TODAY, bkk(2025, 2, 11, 23, 59), "t")
    assert again.value.reason_code == "changed_today"
    with pytest.raises(ConsentRefused) as same:
        check_sources_change(changed, new_choice, TODAY, bkk(2025, 2, 12), "t")
    assert same.value.reason_code == "unchanged"


def test_rejoin_from_the_next_bangkok_day() -> None:
    registered = _register(registration(1), bkk(2025, 2, 9))
    withdrawn = check_withdrawal(fold([registered])[key_of(1)], bkk(2025, 2, 10, 0, 5), "t")
    state = fold([registered, withdrawn])[key_of(1)]
    assert not state.active
    for moment in (bkk(2025, 2, 10, 12, 0), bkk(2025, 2, 10, 23, 59)):
        with pytest.raises(ConsentRefused) as caught:
            check_rejoin(state, None, False, TODAY, moment, "t")
        assert caught.value.reason_code == "rejoin_same_day"
    rejoined = check_rejoin(state, None, False, TODAY, bkk(2025, 2, 11, 0, 1), "t")
    after = fold([registered, withdrawn, rejoined])[key_of(1)]
    assert after.active and after.consenting_since == bkk(2025, 2, 11, 0, 1)


def test_network_choice_covers_a_hospital_that_joins_it_later() -> None:
    choice = SenderChoice.of(networks={NET01})
    march = Participation.from_registry(registry(), H4_JOINS)
    assert H4 not in TODAY.covered(choice)
    assert H4 in march.covered(choice) and H4 in march.covered(SenderChoice.everyone())
    assert H4 not in march.covered(SenderChoice.of(hospitals={H1}))


def test_end_of_bangkok_day() -> None:
    assert end_of_bangkok_day(bkk(2025, 2, 10, 23, 59)) == bkk(2025, 2, 11, 0, 0)
    assert end_of_bangkok_day(bkk(2025, 2, 11, 0, 1)) == bkk(2025, 2, 12, 0, 0)
