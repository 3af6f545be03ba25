"""SMART Backend Services: an access token for a Bulk Data server.

The client proves itself with a JWT signed by its private key (client_credentials grant,
`client_assertion_type` jwt-bearer; RS384 or ES384 as SMART asks). The client id and key
come from the environment, never from the YAML: `HEALTHLINK_FHIR_CLIENT_ID_<NAME>` and
`HEALTHLINK_FHIR_PRIVATE_KEY_FILE_<NAME>` (a secrets file holding the PEM) or
`HEALTHLINK_FHIR_PRIVATE_KEY_<NAME>` (the PEM itself), NAME being `server.credentials`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import jwt

from connectors.base import ExtractError
from connectors.fhir_bulk.settings import ExportServer

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_S: Final = 300  # SMART: no more than five minutes
_REFRESH_MARGIN_S: Final = 30


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    private_key: str  # PEM

    @classmethod
    def from_environment(
        cls, name: str, environ: Mapping[str, str] | None = None
    ) -> ClientCredentials:
        environ = os.environ if environ is None else environ
        id_variable = f"HEALTHLINK_FHIR_CLIENT_ID_{name}"
        key_variable = f"HEALTHLINK_FHIR_PRIVATE_KEY_{name}"
        file_variable = f"HEALTHLINK_FHIR_PRIVATE_KEY_FILE_{name}"
        client_id = environ.get(id_variable)
        key = environ.get(key_variable)
        if key is None and environ.get(file_variable):
            key_file = Path(environ[file_variable])
            if not key_file.is_file():
                raise ExtractError("missing_credentials", f"{file_variable} names no file")
            key = key_file.read_text("utf-8")
        if not client_id or not key:
            raise ExtractError(
                "missing_credentials",
                f"credentials not set: {id_variable} and {file_variable} (or {key_variable})",
            )
        return cls(client_id, key)


def client_assertion(
    credentials: ClientCredentials, server: ExportServer, now: float | None = None
) -> str:
    """The signed JWT the token endpoint verifies with the client's registered public key."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": credentials.client_id,
        "sub": credentials.client_id,
        "aud": str(server.token_url),
        "exp": issued + ASSERTION_LIFETIME_S,
        "jti": uuid.uuid4().hex,
    }
    headers = {"kid": server.key_id} if server.key_id else None
    return jwt.encode(claims, credentials.private_key, server.algorithm, headers=headers)


class AccessToken:
    """A bearer token, fetched again shortly before it expires (an export may poll long)."""

    def __init__(self, client: httpx.Client, server: ExportServer) -> None:
        self._client = client
        self._server = server
        self._credentials = ClientCredentials.from_environment(server.credentials)
        self._token = ""
        self._expires_at = 0.0

    def header(self) -> dict[str, str]:
        if time.monotonic() >= self._expires_at - _REFRESH_MARGIN_S:
            self._fetch()
        return {"Authorization": f"Bearer {self._token}"}

    def _fetch(self) -> None:
        response = self._client.post(
            str(self._server.token_url),
            data={
                "grant_type": "client_credentials",
                "scope": self._server.scope,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": client_assertion(self._credentials, self._server),
            },
        )
        if response.status_code != 200:
            raise ExtractError(
                "source_unreachable", f"token endpoint answered HTTP {response.status_code}"
            )
        body = response.json()
        self._token = str(body["access_token"])
        self._expires_at = time.monotonic() + float(body.get("expires_in", 300))
