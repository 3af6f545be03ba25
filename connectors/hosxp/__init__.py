"""Connector for HOSxP, the hospital information system most Thai public hospitals run."""

from connectors.hosxp.connector import HosxpConnector
from connectors.hosxp.settings import HosxpSettings

__all__ = ["HosxpConnector", "HosxpSettings"]
