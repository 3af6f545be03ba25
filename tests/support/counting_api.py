"""The API with its pincode verifier wrapped to count calls: `tests.support.counting_api:app`.

The verifier is the API's plug-in point for the Medical Council's credential service; this
wrapper delegates every call to the real `LocalPincodeVerifier` and appends one line per
call to the file named by HEALTHLINK_TEST_VERIFIER_LOG, so a test can prove how many pincode
checks a burst of logins reached (issue 9 #2). Served in its own process only: importing
it builds the app, which reads the server's settings. Short appends to a file opened with O_APPEND
do not interleave, whichever worker thread writes them.
"""

from __future__ import annotations

import os
from pathlib import Path

from warehouse.api.config import get_api_settings
from warehouse.api.context import ApiContext
from warehouse.api.credentials import LocalPincodeVerifier
from warehouse.api.main import create_app
from warehouse.settings import get_settings
from warehouse.storage.connection import WarehouseConnection


class CountingVerifier:
    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.inner = LocalPincodeVerifier()

    def verify(self, conn: WarehouseConnection, licence: str, pincode: str) -> bool:
        with self.log_path.open("a", encoding="ascii") as log:
            log.write(f"{licence}\n")
        return self.inner.verify(conn, licence, pincode)


app = create_app(
    ApiContext(
        get_settings(),
        get_api_settings(),
        verifier=CountingVerifier(Path(os.environ["HEALTHLINK_TEST_VERIFIER_LOG"])),
    )
)
