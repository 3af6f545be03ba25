"""A server's `$export`: kick-off, polling, download into the day's folder.

Kick-off asks for the wanted types updated since `_since` (Prefer: respond-async); the
status URL is polled honouring `Retry-After`; the output and deleted files are downloaded
beside a `manifest.json` that names them by their local file names. The folder is written
under a temporary name and renamed when complete, so a day folder with a manifest is always
a whole export: a re-run of the day reads it again instead of asking the server (delete the
folder to export again). The manifest's `transactionTime` is kept there, so the next day's
`_since` can start from it (`previous_transaction_time`).

Incremental exports hold only what changed, so a Condition may name a Patient or an
Encounter the export does not hold: those are fetched by id (`Patient?_id=...`) into
`<Type>.referenced.ndjson`, listed in the manifest like any output.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import orjson

from connectors.base import ExtractError
from connectors.fhir_bulk.export_folder import MANIFEST_NAME, read_manifest
from connectors.fhir_bulk.server_session import ServerRefused, ServerSession, server_session
from connectors.fhir_bulk.settings import ExportServer
from connectors.fhir_bulk.values import reference_id

REFERENCED: Final = ("Patient", "Encounter")
_IDS_PER_SEARCH: Final = 50


def previous_transaction_time(folder: Path, extract_date: date) -> datetime | None:
    """transactionTime of the latest export of an earlier day beside `folder`."""
    earlier = sorted(
        p for p in folder.parent.glob("????-??-??") if p.name < extract_date.isoformat()
    )
    for day in reversed(earlier):
        manifest = read_manifest(day) if (day / MANIFEST_NAME).is_file() else None
        if manifest is not None and manifest.transaction_time is not None:
            return manifest.transaction_time
    return None


def download_export(
    server: ExportServer, folder: Path, since: datetime, types: Iterable[str]
) -> None:
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with server_session(server) as fhir:
            export = _Export(fhir)
            manifest = export.kick_off(since, sorted(types))
            local = export.download(manifest, partial)
            export.fetch_referenced(local, partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # never a half export that looks whole
        raise
    (partial / MANIFEST_NAME).write_bytes(orjson.dumps(local, option=orjson.OPT_INDENT_2))
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


class _Export:
    def __init__(self, fhir: ServerSession) -> None:
        self.fhir = fhir

    def kick_off(self, since: datetime, types: list[str]) -> dict[str, Any]:
        kickoff = self.fhir.get(
            f"{self.fhir.base}/{self.fhir.server.export_path}",
            "$export kick-off",
            params={"_type": ",".join(types), "_since": _instant(since)},
            headers={"Prefer": "respond-async"},
        )
        if kickoff.status_code != 202 or "Content-Location" not in kickoff.headers:
            raise ServerRefused("$export kick-off", kickoff.status_code)
        return self._poll(kickoff.headers["Content-Location"])

    def _poll(self, status_url: str) -> dict[str, Any]:
        while True:
            status = self.fhir.get(status_url, "$export")  # a 429 is waited out there
            if status.status_code == 200:
                manifest: dict[str, Any] = status.json()
                return manifest
            if status.status_code != 202:
                raise ServerRefused("$export status", status.status_code)
            self.fhir.wait_as_told(status, "$export")

    def download(self, manifest: dict[str, Any], into: Path) -> dict[str, Any]:
        """Every output and deleted file, saved under a local name; the manifest naming them."""
        local = {k: v for k, v in manifest.items() if k not in ("output", "deleted", "error")}
        for part in ("output", "deleted", "error"):
            local[part] = []
            for number, entry in enumerate(manifest.get(part) or []):
                prefix = "" if part == "output" else f"{part}."
                name = f"{prefix}{entry['type']}.{number:03d}.ndjson"
                self._save(entry["url"], into / name, manifest.get("requiresAccessToken", True))
                local[part].append({"type": entry["type"], "url": name})
        return local

    def _save(self, url: str, path: Path, with_token: bool) -> None:
        token = self.fhir.bearer(url) if with_token else {}
        headers = {"Accept": "application/fhir+ndjson", **token}
        with self.fhir.client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise ExtractError(
                    "source_unreachable",
                    f"export file download answered HTTP {response.status_code}",
                    source_file=path.name,
                )
            with path.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)

    def fetch_referenced(self, manifest: dict[str, Any], folder: Path) -> None:
        """Patients and Encounters the exported resources name but the export lacks."""
        held: dict[str, set[str]] = {kind: set() for kind in REFERENCED}
        named: dict[str, set[str]] = {kind: set() for kind in REFERENCED}
        for entry in manifest["output"]:
            for text in (folder / entry["url"]).read_bytes().splitlines():
                try:
                    resource = orjson.loads(text)
                except orjson.JSONDecodeError:
                    continue  # not a resource: the reader rejects the line
                if not isinstance(resource, dict):
                    continue
                if resource.get("resourceType") in held:
                    held[resource["resourceType"]].add(str(resource.get("id")))
                for element in ("subject", "patient", "encounter", "context"):
                    for kind in REFERENCED:
                        found = reference_id(resource.get(element), kind)
                        if found:
                            named[kind].add(found)
        for kind in REFERENCED:
            missing = sorted(named[kind] - held[kind])
            if missing:
                name = f"{kind}.referenced.ndjson"
                self._search_by_id(kind, missing, folder / name)
                manifest["output"].append({"type": kind, "url": name})

    def _search_by_id(self, kind: str, ids: list[str], path: Path) -> None:
        with path.open("wb") as handle:
            for start in range(0, len(ids), _IDS_PER_SEARCH):
                chunk = ids[start : start + _IDS_PER_SEARCH]
                params = {"_id": ",".join(chunk), "_count": str(len(chunk))}
                for resource in self.fhir.search(
                    f"{self.fhir.base}/{kind}", f"{kind} search", params
                ):
                    handle.write(orjson.dumps(resource) + b"\n")


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
