"""The HOSxP login, from the environment or a secrets file; never from the YAML.

No message here quotes a host, user or password: only the names of the variables, file
and key where they were looked for.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from pydantic import SecretStr

from connectors.base import ExtractError
from connectors.hosxp.settings import HosxpSettings

DEFAULT_PORT = 3306


@dataclass(frozen=True)
class Credentials:
    host: str = field(repr=False)
    port: int
    user: str = field(repr=False)
    password: SecretStr = field(repr=False)


def load_credentials(settings: HosxpSettings) -> Credentials:
    if settings.credentials_env is not None:
        return _from_environment(settings.credentials_env)
    return _from_secrets_file(settings)


def _from_environment(prefix: str) -> Credentials:
    names = {part: f"{prefix}_{part.upper()}" for part in ("host", "port", "user", "password")}
    missing = [names[p] for p in ("host", "user", "password") if names[p] not in os.environ]
    if missing:
        raise ExtractError("missing_credentials", f"environment variables not set: {missing}")
    return _credentials(
        {part: os.environ.get(name) for part, name in names.items()}, where=f"{prefix}_*"
    )


def _from_secrets_file(settings: HosxpSettings) -> Credentials:
    assert settings.secrets_file is not None and settings.secrets_key is not None
    try:
        entries = json.loads(settings.secrets_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ExtractError(
            "missing_credentials",
            "secrets file missing or not JSON",
            source_file=str(settings.secrets_file),
        ) from None
    entry = entries.get(settings.secrets_key) if isinstance(entries, dict) else None
    if not isinstance(entry, dict):
        raise ExtractError(
            "missing_credentials",
            f"no entry {settings.secrets_key!r} in the secrets file",
            source_file=str(settings.secrets_file),
        )
    return _credentials(entry, where=f"{settings.secrets_file} [{settings.secrets_key}]")


def _credentials(values: dict[str, object], *, where: str) -> Credentials:
    missing = [p for p in ("host", "user", "password") if values.get(p) in (None, "")]
    if missing:
        raise ExtractError("missing_credentials", f"{where} lacks {', '.join(missing)}")
    port = values.get("port") or DEFAULT_PORT
    try:
        port = int(str(port))
    except ValueError:
        raise ExtractError("missing_credentials", f"{where}: port is not a number") from None
    return Credentials(
        host=str(values["host"]),
        port=port,
        user=str(values["user"]),
        password=SecretStr(str(values["password"])),
    )
