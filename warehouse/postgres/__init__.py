"""The PostgreSQL side of the warehouse: the connection adapter and its bulk path."""
