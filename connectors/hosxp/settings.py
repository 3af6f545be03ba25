"""How one hospital's HOSxP database is reached (declared in its registry YAML).

The YAML names where the credentials are, never the credentials themselves: either an
environment variable prefix (`<PREFIX>_HOST`, `_PORT`, `_USER`, `_PASSWORD`) or a secrets
file and the key of the hospital's entry in it (connectors/hosxp/credentials.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from connectors.window import WindowSettings


class HosxpSettings(WindowSettings):
    """`connector:` block of a hospital YAML for kind `hosxp`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["hosxp"] = "hosxp"
    database: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$", description="HOSxP schema name"
    )
    credentials_env: str | None = Field(
        None,
        pattern=r"^[A-Z][A-Z0-9_]*$",
        description="prefix of the environment variables <PREFIX>_HOST, _PORT, _USER, _PASSWORD",
    )
    secrets_file: Path | None = Field(
        None, description="JSON file of {key: {host, port, user, password}}, outside the repo"
    )
    secrets_key: str | None = Field(None, description="the hospital's entry in secrets_file")

    @model_validator(mode="after")
    def _one_credentials_source(self) -> HosxpSettings:
        from_file = self.secrets_file is not None or self.secrets_key is not None
        if (self.credentials_env is None) == (not from_file):
            raise ValueError("name either credentials_env or secrets_file with secrets_key")
        if from_file and (self.secrets_file is None or self.secrets_key is None):
            raise ValueError("secrets_file and secrets_key go together")
        return self
