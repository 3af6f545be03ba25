"""The physician read API (issue 5): FastAPI over the published views, audited."""
