"""Connector for FHIR R4 Bulk Data exports (NDJSON folders, or a server's `$export`)."""

from connectors.fhir_bulk.connector import FhirBulkConnector
from connectors.fhir_bulk.settings import FhirBulkSettings

__all__ = ["FhirBulkConnector", "FhirBulkSettings"]
