"""A new hospital's registry YAML: validated by the registry's own model, never overwriting.

`participating_since` is left out on purpose: a registered hospital joins (its patients'
consent reaches it, the DAG maps it) only when someone sets that date (DESIGN §6).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from warehouse.hospital_registry import (
    Hospital,
    NetworksFile,
    RegistryError,
    load_hospital,
)

_HEADER = (
    "# Written by `healthlink hospital add`. participating_since is not set: the hospital\n"
    "# joins on the date someone sets there (docs/onboarding.md).\n"
)


# `hospital add` options that go under a fhir_bulk connector's `server:` block.
_SERVER_OPTIONS = ("base_url", "export_path", "token_url", "credentials")


class HospitalExists(RegistryError):
    """The registry already has a file for this hospital code."""


def hospital_file(registry_dir: Path, code: str) -> Path:
    return registry_dir / "hospitals" / f"{code}.yml"


def refuse_existing(registry_dir: Path, code: str) -> None:
    hospitals = registry_dir / "hospitals"
    for suffix in (".yml", ".yaml"):
        if (hospitals / f"{code}{suffix}").exists():
            raise HospitalExists(f"{hospitals / (code + suffix)}: hospital {code} already exists")


def write_hospital(
    registry_dir: Path,
    *,
    code: str,
    name: str,
    network: str,
    health_region: int,
    connector: dict[str, Any],
) -> Hospital:
    """Validate and write `hospitals/<code>.yml`; the connector's path is written relative to
    that file, as the registry reads it."""
    refuse_existing(registry_dir, code)
    _require_network(registry_dir, network)
    target = hospital_file(registry_dir, code)
    document = {
        "hospital_code": code,
        "name": name,
        "network": network,
        "health_region": health_region,
        "connector": _paths_relative(connector, target.parent),
        "contacts": [],
    }
    try:
        Hospital.model_validate({**document, "connector": connector})
    except ValidationError as error:
        problems = "; ".join(
            f"field {'.'.join(str(p) for p in item['loc'])}: {item['msg']}"
            for item in error.errors(include_input=False, include_url=False)
        )
        raise RegistryError(f"{target}: {problems}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    text = _HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    with target.open("x", encoding="utf-8") as handle:  # "x": never over another's file
        handle.write(text)
    return load_hospital(target)


def _require_network(registry_dir: Path, network: str) -> None:
    path = registry_dir / "networks.yml"
    if not path.is_file():
        raise RegistryError(f"{path}: missing (the registry's network list)")
    known = NetworksFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    codes = sorted(n.code for n in known.networks)
    if network not in codes:
        raise RegistryError(f"{path}: unknown network {network!r}; known: {', '.join(codes)}")


def connector_block(kind: str, options: Mapping[str, object]) -> dict[str, Any]:
    """A `connector:` block from `hospital add`'s options: the ones given, nested as the
    kind's settings model reads them (a FHIR server's under `server:`). Which options a kind
    takes is the settings model's to say (write_hospital validates the block)."""
    given = {
        name: str(value) if isinstance(value, Path) else value
        for name, value in options.items()
        if value is not None
    }
    server = {name: given.pop(name) for name in _SERVER_OPTIONS if name in given}
    block: dict[str, Any] = {"kind": kind, **given}
    if server:
        block["server"] = server
    return block


def _paths_relative(connector: dict[str, Any], start: Path) -> dict[str, Any]:
    """The connector's `path` relative to the YAML (as the registry reads it); a secrets
    file is written absolute, as the connector reads it."""
    written = dict(connector)
    if written.get("path") is not None:
        written["path"] = _relative(Path(str(written["path"])), start)
    if written.get("secrets_file") is not None:
        written["secrets_file"] = str(Path(str(written["secrets_file"])).resolve())
    return written


def _relative(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())
