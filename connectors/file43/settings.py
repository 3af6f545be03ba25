"""How one hospital's 43-file extracts are written (declared in its registry YAML)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class File43Settings(BaseModel):
    """`connector:` block of a hospital YAML for kind `file43`.

    Encoding and era are declared, never guessed: bytes invalid in the declared encoding
    stop the batch, and a date year implausible for the declared era is an invalid field.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["file43"] = "file43"
    path: Path = Field(description="folder holding one YYYY-MM-DD sub-folder per extract date")
    encoding: Literal["utf-8", "tis-620"] = "utf-8"
    date_era: Literal["gregorian", "buddhist"] = "gregorian"
    header: bool = True
    delimiter: str = Field("|", min_length=1, max_length=1)

    def extract_dir(self, extract_date: date) -> Path:
        return self.path / extract_date.isoformat()
