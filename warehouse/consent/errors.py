"""Refusals: a reason code for machines and a sentence for people, never personal data."""

from __future__ import annotations


class ConsentRefused(Exception):
    """A consent action the rules do not allow."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = reason_code
        self.message = message


# Every reason code the service raises, with what it means (docs/consent.md lists them).
REASONS = {
    "invalid_national_id": "the national ID is not a valid 13-digit Thai ID",
    "not_thai_card": "the ID is not of a Thai national ID card (first digit 1-5 or 8)",
    "under_age": "the person is younger than 18 on the registration day",
    "not_self": "the verified identity is not the person being registered",
    "verification_missing": "the identity verification (method, time) is missing or in the future",
    "already_registered": "this person is already registered",
    "not_registered": "this person has not registered",
    "withdrawn": "the consent is withdrawn",
    "already_withdrawn": "the consent is already withdrawn",
    "not_withdrawn": "the consent is active, there is nothing to rejoin",
    "rejoin_same_day": "rejoining is possible from the day after the withdrawal (Bangkok)",
    "changed_today": "the sender list was already set today (Bangkok)",
    "unchanged": "the sender list is the same as the current one",
    "empty_choice": "a list choice names no network and no hospital",
    "unknown_network": "a network is not in the hospital registry",
    "not_participating": "a hospital does not participate in Health Link",
    "not_per_visit": "a source hospital does not require per-visit consent",
    "not_sender": "a source hospital is not in the patient's sender choice",
    "unknown_request": "no such per-visit request for this patient",
    "request_closed": "the per-visit request is no longer pending",
    "request_expired": "the per-visit request expired (end of its day, Bangkok)",
    "future_date": "the date is after today (Asia/Bangkok); the history cannot answer for it",
}
