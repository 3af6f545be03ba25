"""What the onboarding tests share (tests/onboarding): the dataset's hospitals by connector
settings, a 43-file folder edited field by field, the `healthlink` command in-process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from typer.testing import CliRunner

from tests.support.machine import START as DAY
from warehouse.cli.main import app


@dataclass(frozen=True)
class Onboarding:
    root: Path  # what generate_dataset wrote

    @property
    def registry(self) -> Path:
        return self.root / "registry"

    def yaml(self, code: str) -> dict:
        path = self.registry / "hospitals" / f"{code}.yml"
        return yaml.safe_load(path.read_text(encoding="utf-8"))

    def code_where(self, **wanted: object) -> str:
        for path in sorted((self.registry / "hospitals").glob("*.yml")):
            connector = yaml.safe_load(path.read_text(encoding="utf-8"))["connector"]
            if all(connector[k] == v for k, v in wanted.items()):
                return path.stem
        raise LookupError(wanted)

    def extract(self, code: str) -> Path:
        return self.root / "extracts" / code / DAY.isoformat()


class Folder:
    """A header-first UTF-8 43-file folder edited field by field (synthetic rows only)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def lines(self, name: str) -> list[list[str]]:
        text = (self.folder / f"{name}.txt").read_text(encoding="utf-8")
        return [line.split("|") for line in text.splitlines()]

    def write(self, name: str, lines: list[list[str]]) -> None:
        text = "\n".join("|".join(fields) for fields in lines) + "\n"
        (self.folder / f"{name}.txt").write_text(text, encoding="utf-8")

    def append(self, name: str, **values: str) -> int:
        """Append a copy of the first data line with `values` set; its line number."""
        lines = self.lines(name)
        row = list(lines[1])
        for field, value in values.items():
            row[lines[0].index(field)] = value
        lines.append(row)
        self.write(name, lines)
        return len(lines)

    def set_field(self, name: str, line_numbers: list[int], field: str, value: str) -> None:
        lines = self.lines(name)
        for number in line_numbers:
            lines[number - 1][lines[0].index(field)] = value
        self.write(name, lines)


def healthlink(*args: str) -> tuple[int, str]:
    """Run the real `healthlink` command in-process; (exit code, everything it printed)."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output
