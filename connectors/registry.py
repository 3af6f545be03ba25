"""Which connector reads which kind of source: an explicit dict, no magic.

Adding a kind (e.g. FHIR NDJSON) means: a settings model with `kind: Literal["fhir"]`,
added to the `ConnectorSettings` union, and its class added to `CONNECTORS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, Union

from pydantic import Field, TypeAdapter

from connectors.base import Connector
from connectors.fhir_bulk import FhirBulkConnector, FhirBulkSettings
from connectors.file43 import File43Connector, File43Settings
from connectors.hosxp import HosxpConnector, HosxpSettings

CONNECTORS: Final[dict[str, type[Connector]]] = {
    "file43": File43Connector,
    "hosxp": HosxpConnector,
    "fhir_bulk": FhirBulkConnector,
}

# Every kind's settings model; a new kind adds its model here and its class to CONNECTORS.
AnyConnectorSettings = File43Settings | FhirBulkSettings | HosxpSettings
# Discriminated on `kind`; a Union so that further kinds slot in beside File43Settings.
ConnectorSettings = Annotated[Union[AnyConnectorSettings], Field(discriminator="kind")]  # noqa: UP007

_SETTINGS: Final[TypeAdapter[AnyConnectorSettings]] = TypeAdapter(ConnectorSettings)


class UnknownConnectorKind(ValueError):
    pass


def parse_settings(data: Mapping[str, Any]) -> AnyConnectorSettings:
    """Validate a `connector:` block; an unknown or missing kind is a clear error."""
    kind = data.get("kind")
    if kind not in CONNECTORS:
        raise UnknownConnectorKind(
            f"unknown connector kind {kind!r}; known kinds: {', '.join(sorted(CONNECTORS))}"
        )
    return _SETTINGS.validate_python(dict(data))


def build_connector(settings: AnyConnectorSettings | Mapping[str, Any]) -> Connector:
    """The connector for validated settings (or a raw `connector:` mapping)."""
    if isinstance(settings, Mapping):
        settings = parse_settings(settings)
    kind = getattr(settings, "kind", None)
    try:
        connector_class = CONNECTORS[kind]  # type: ignore[index]
    except KeyError:
        raise UnknownConnectorKind(
            f"unknown connector kind {kind!r}; known kinds: {', '.join(sorted(CONNECTORS))}"
        ) from None
    return connector_class(settings)  # type: ignore[call-arg]
