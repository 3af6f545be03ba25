"""Connector for the Thai MOPH "43 files" (plus the project's IMAGING file)."""

from connectors.file43.connector import File43Connector, batch_id_for
from connectors.file43.settings import File43Settings

__all__ = ["File43Connector", "File43Settings", "batch_id_for"]
