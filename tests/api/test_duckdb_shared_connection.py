"""The API keeps the DuckDB file open across requests (warehouse.storage.connection
.SharedDuckDB) without weakening the single-writer protocol or consent: while physicians'
requests keep coming, a writer in another process (here the test, as the CLI or the daily
sync would) gets warehouse.lock within seconds, and a withdrawal it commits hides the
patient from the very next request. DuckDB only: PostgreSQL has no file lock."""

from __future__ import annotations

import threading
import time

import pytest

from tests.support.api_server import (
    Server,
    _register_in_consent_service,
    add_physician,
    bearer,
    login,
)


@pytest.mark.parametrize("api_server", ["duckdb"], indirect=True)
def test_writer_gets_the_file_while_the_api_serves_and_withdrawal_is_seen_next(
    api_server: Server,
) -> None:
    from warehouse import consent
    from warehouse.storage.connection import connect

    cast = api_server.cast
    add_physician(api_server.settings, "20031", [cast.one_time_hospitals[0]])
    with connect(api_server.settings) as conn:
        # A visible patient the other tests do not use.
        (patient,) = conn.execute(
            "SELECT patient_key FROM published.patient WHERE patient_key NOT IN (?, ?) "
            "AND birth_date < DATE '2000-01-01' ORDER BY patient_key DESC LIMIT 1",
            [cast.multi_hospital_patient, cast.withdrawn_patient],
        ).fetchone()
        _register_in_consent_service(conn, api_server.settings, patient)
    statuses: list[int] = []
    stop = threading.Event()

    def physician_reads() -> None:
        with api_server.client() as client:
            headers = bearer(login(client, "20031"))
            while not stop.is_set():
                response = client.get(
                    f"/patients/{cast.multi_hospital_patient}/record", headers=headers
                )
                statuses.append(response.status_code)

    with api_server.client() as client:
        headers = bearer(login(client, "20031"))
        assert client.get(f"/patients/{patient}/record", headers=headers).status_code == 200
        reader = threading.Thread(target=physician_reads)
        reader.start()
        try:
            while len(statuses) < 3:
                time.sleep(0.05)
            started = time.monotonic()
            with connect(api_server.settings) as conn:  # the writer, as the CLI would be
                waited = time.monotonic() - started
                consent.withdraw(conn, patient)
            # The next request, with no pause: the withdrawal is already in force.
            assert client.get(f"/patients/{patient}/record", headers=headers).status_code == 404
            served = len(statuses)
            while len(statuses) < served + 3:
                time.sleep(0.05)
        finally:
            stop.set()
            reader.join(timeout=60)
    assert waited < 5, waited
    assert set(statuses) == {200}, statuses
