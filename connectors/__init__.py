"""Connectors: read a hospital's extracts into the canonical extract contract.

This package imports nothing else of the project (see docs/architecture.md).
"""
