"""Storage: the connection protocol, the DuckDB and PostgreSQL adapters, the schema, migrations."""
