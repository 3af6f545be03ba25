"""One conversation with a hospital's FHIR server, shared by the `$export` download
(export_client) and the history reads (patient_history).

The SMART token goes to the server's own origin only; an answer of 429 is waited out as
`Retry-After` says (seconds or an HTTP date; 2 s when absent, at most 120 s), within the
server's `timeout_s` counted from the session's start; searchset Bundles are read page by page
through their `next` links. Errors name the request and the HTTP status only, never a URL
(its query may hold ids), and a transport failure stops the batch as `source_unreachable`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx

from connectors.base import ExtractError
from connectors.fhir_bulk.settings import ExportServer
from connectors.fhir_bulk.smart import AccessToken
from connectors.fhir_bulk.values import Resource

FHIR_JSON: Final = "application/fhir+json"
REQUEST_TIMEOUT_S: Final = 60
DEFAULT_RETRY_S: Final = 2.0
MAX_RETRY_S: Final = 120.0
TOO_MANY_REQUESTS: Final = 429


class ServerRefused(ExtractError):
    """The server answered a request with an HTTP status other than the one expected."""

    def __init__(self, what: str, status: int) -> None:
        super().__init__("source_unreachable", f"{what} answered HTTP {status}")
        self.status = status


@contextmanager
def server_session(server: ExportServer) -> Iterator[ServerSession]:
    try:
        with httpx.Client(timeout=REQUEST_TIMEOUT_S, headers={"Accept": FHIR_JSON}) as client:
            yield ServerSession(client, server)
    except httpx.HTTPError as error:
        raise ExtractError(
            "source_unreachable", f"the FHIR server did not answer: {type(error).__name__}"
        ) from None


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port


class ServerSession:
    def __init__(self, client: httpx.Client, server: ExportServer) -> None:
        self.client = client
        self.server = server
        self.base = str(server.base_url).rstrip("/")
        self.token = AccessToken(client, server)
        self._deadline = time.monotonic() + server.timeout_s

    def bearer(self, url: str) -> dict[str, str]:
        """The token, for the server's own origin only: a status, file or next-page URL
        elsewhere (a storage bucket) must not need it, or the token would leak."""
        if _origin(url) != _origin(self.base):
            raise ExtractError(
                "source_unreachable", "the server named a URL on another origin for its token"
            )
        return self.token.header()

    def get(
        self,
        url: str,
        what: str,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A GET with the token; a 429 is asked again after the wait the server names."""
        while True:
            response = self.client.get(
                url, params=params, headers={**self.bearer(url), **(headers or {})}
            )
            if response.status_code != TOO_MANY_REQUESTS:
                return response
            self.wait_as_told(response, what)

    def wait_as_told(self, response: httpx.Response, what: str) -> None:
        """Sleep as `Retry-After` says, unless that passes the server's `timeout_s`."""
        wait = retry_after(response.headers.get("Retry-After"))
        if time.monotonic() + wait > self._deadline:
            raise ExtractError(
                "source_unreachable", f"{what} not complete within {self.server.timeout_s:.0f} s"
            )
        time.sleep(wait)

    def search(self, url: str, what: str, params: dict[str, str]) -> Iterator[Resource]:
        """Every resource of a search, page by page."""
        return self.resources(self.get(url, what, params), what)

    def resources(self, first: httpx.Response, what: str) -> Iterator[Resource]:
        """The resources of a searchset Bundle answered in `first` and of its next pages."""
        response = first
        while True:
            if response.status_code != 200:
                raise ServerRefused(what, response.status_code)
            bundle: dict[str, Any] = response.json()
            for entry in bundle.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict):
                    yield resource
            following = next_page(bundle)
            if following is None:
                return
            response = self.get(following, what)


def next_page(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None


def retry_after(value: str | None) -> float:
    """Seconds to wait: `Retry-After` as seconds or an HTTP date, bounded."""
    if not value:
        return DEFAULT_RETRY_S
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            seconds = DEFAULT_RETRY_S
    return min(max(seconds, 0.0), MAX_RETRY_S)
