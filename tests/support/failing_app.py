"""The API with one more route that fails on purpose, its exception message and locals
holding the request's values (issue 9, finding 7: the catch-all must log neither, nor a
traceback). Served only by tests/security/test_finding_7_input_fuzz.py."""

from __future__ import annotations

from pydantic import BaseModel

from warehouse.api.main import create_app

FAILING_PATH = "/testing/unexpected-failure"

app = create_app()


class Secrets(BaseModel):
    national_id: str
    pincode: str


@app.post(FAILING_PATH)
def fail(body: Secrets) -> None:
    national_id, pincode = body.national_id, body.pincode
    raise RuntimeError(f"unexpected failure for {national_id} with {pincode}")
