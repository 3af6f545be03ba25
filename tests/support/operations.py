"""The served app's operations, enumerated at run time from /openapi.json, with a plausible
request for each: path parameters and a JSON body built from the schema. Used by the
security tests that must cover every route, including routes added after they were written
(issue 9, findings 7 and 8)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from stdnum.th import pin

# A Thai ID card number the generated data does not hold (899... is outside its ranges).
FUZZ_NATIONAL_ID_BASE = "899000077777"
FUZZ_NATIONAL_ID = FUZZ_NATIONAL_ID_BASE + pin.calc_check_digit(FUZZ_NATIONAL_ID_BASE)
FUZZ_LICENCE = "F79999"


@dataclass
class Operation:
    method: str
    path: str
    spec: dict[str, Any]
    path_params: list[str] = field(default_factory=list)
    body_schema: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, values: dict[str, str]) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], self.path)


def operations(base_url: str) -> tuple[list[Operation], dict[str, Any]]:
    """Every operation of the served OpenAPI document, and its components."""
    document = httpx.get(f"{base_url}/openapi.json", timeout=60).json()
    found = []
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            params = [p["name"] for p in spec.get("parameters", []) if p.get("in") == "path"]
            content = spec.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            found.append(Operation(method.upper(), path, spec, params, schema))
    return found, document.get("components", {})


@dataclass
class Samples:
    """Valid-looking values for the patterns and formats the API uses."""

    patient_key: str
    hospital_code: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def for_pattern(self, pattern: str, name: str) -> str:
        known = {
            r"^[0-9]{13}$": FUZZ_NATIONAL_ID,
            r"^[0-9a-f]{32}$": self.patient_key,
            r"^[0-9]{5}$": self.hospital_code,
            r"^[0-9]{6}$": "739164",
            r"^[0-9A-Za-z]{1,16}$": self.hospital_code,
            r"^[A-Za-z]{0,3}[0-9]{1,10}$": FUZZ_LICENCE,
        }
        if pattern in known:
            return known[pattern]
        if pattern.endswith(r"th-cid\|[0-9]{13}$"):
            return f"https://terms.sil-th.org/id/th-cid|{FUZZ_NATIONAL_ID}"
        return f"sample {name} text"

    def path_value(self, name: str) -> str:
        return {"patient_key": self.patient_key, "licence": FUZZ_LICENCE}.get(name, "0" * 32)


def resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = components["schemas"][name]
    return schema


def sample(
    schema: dict[str, Any], components: dict[str, Any], samples: Samples, name: str = "value"
) -> Any:
    """A value the schema accepts (the first alternative of a union, every property)."""
    schema = resolve(schema, components)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if resolve(o, components).get("type") != "null"]
            return sample(options[0], components, samples, name)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            prop: sample(sub, components, samples, prop)
            for prop, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [sample(schema.get("items", {}), components, samples, name)]
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
    if kind == "string":
        if schema.get("format") == "date":
            return "1980-05-17"
        if schema.get("format") == "date-time":
            return (samples.now - timedelta(minutes=5)).isoformat()
        if "pattern" in schema:
            text = samples.for_pattern(schema["pattern"], name)
        else:
            text = f"sample {name} text"
        minimum = int(schema.get("minLength", 0))
        return text if len(text) >= minimum else (text + " and more words") * minimum
    return "sample"


def leaves(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every scalar (and every empty container) in a JSON value."""
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in leaves(v, (*prefix, k))]
    if isinstance(value, list) and value:
        return [p for i, v in enumerate(value) for p in leaves(v, (*prefix, i))]
    return [prefix]


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = replaced(copy[head], rest, new)
    return copy
