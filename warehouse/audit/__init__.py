"""The access audit: the keyed, chained log of every request that touches patient data."""
