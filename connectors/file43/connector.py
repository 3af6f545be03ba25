"""The 43-file connector: one folder of pipe-delimited MOPH files per extract date."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import ClassVar

import pyarrow as pa

from connectors.base import Connector, Extract, ExtractError, SourceFile, batch_id_for
from connectors.contract import ENTITIES, empty_table
from connectors.file43.layout import FILE_NAMES, LAYOUTS, source_field
from connectors.file43.reader import ParsedFile, read_source_file
from connectors.file43.settings import File43Settings
from connectors.file43.transform import Lineage, build_tables

_WORKERS = 2  # the design target is a 2-core machine; Arrow adds its own threads inside


class File43Connector(Connector):
    kind: ClassVar[str] = "file43"

    def __init__(self, settings: File43Settings) -> None:
        self.settings = settings

    def discover(self, extract_dir: Path) -> list[SourceFile]:
        files = []
        for path in self._paths(extract_dir):
            files.append(SourceFile.of(path.name, path.read_bytes()))
        return files

    def read(self, hospital_code: str, extract_dir: Path | None, extract_date: date) -> Extract:
        paths = self._paths(extract_dir or self.extract_dir(extract_date))
        hashed: list[SourceFile] = []
        # Files are independent: each is read, hashed and parsed in parallel (Arrow releases
        # the GIL); the batch id needs every hash, so transforming comes second.
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            try:
                parsed = list(pool.map(lambda n, p: self._parse(n, p, hashed), FILE_NAMES, paths))
            except ExtractError as error:
                pool.shutdown(wait=True)  # every file is then hashed, once: the quarantine's
                order = {path.name: i for i, path in enumerate(paths)}
                error.files = sorted(hashed, key=lambda f: order[f.name])
                raise
            files = [p.source for p in parsed]
            lineage = Lineage(hospital_code, extract_date, batch_id_for(files))
            built = list(pool.map(lambda p: self._build(p, lineage), parsed))
        tables: dict[str, list[pa.Table]] = {entity: [] for entity in ENTITIES}
        for pieces in built:
            for entity, table in pieces:
                tables[entity].append(table)
        return Extract(
            hospital_code=hospital_code,
            extract_date=extract_date,
            batch_id=lineage.batch_id,
            files=files,
            tables={
                entity: pa.concat_tables(parts) if parts else empty_table(entity)
                for entity, parts in tables.items()
            },
            rejected=[line for p in parsed for line in p.rejected],
            source_schema={p.layout.name: p.columns for p in parsed},
        )

    def source_field(self, source_file: str, column: str, *, vital_code: str | None = None) -> str:
        return source_field(source_file, column, vital_code=vital_code)

    def extract_dir(self, extract_date: date) -> Path:
        return self.settings.extract_dir(extract_date)

    def _paths(self, extract_dir: Path) -> list[Path]:
        """The path of every expected file, in FILE_NAMES order; names match case-insensitively."""
        if not extract_dir.is_dir():
            raise ExtractError(
                "missing_file", "extract folder not found", source_file=str(extract_dir)
            )
        present = {p.name.upper(): p for p in extract_dir.iterdir() if p.is_file()}
        paths = []
        for name in FILE_NAMES:
            path = present.get(f"{name}.TXT")
            if path is None:
                raise ExtractError(
                    "missing_file", "file not found in extract folder", source_file=f"{name}.txt"
                )
            paths.append(path)
        return paths

    def _parse(self, name: str, path: Path, hashed: list[SourceFile]) -> ParsedFile:
        return read_source_file(
            path,
            LAYOUTS[name],
            encoding=self.settings.encoding,
            header=self.settings.header,
            delimiter=self.settings.delimiter,
            hashed=hashed,
        )

    def _build(self, parsed: ParsedFile, lineage: Lineage) -> list[tuple[str, pa.Table]]:
        return [
            (mapping.entity, build_tables(parsed, mapping, lineage, self.settings.date_era))
            for mapping in parsed.layout.mappings
        ]
