"""All configuration in one place, read from the environment (prefix HEALTHLINK_)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development only: a fixed key makes demo runs reproducible. Production must set its own.
DEVELOPMENT_PSEUDONYM_KEY = "healthlink-development-key-not-for-production"
# Development only: the HMAC key of the access audit chain (warehouse/audit/trail.py); refused
# elsewhere when the audit is written or verified.
DEVELOPMENT_AUDIT_KEY = "healthlink-development-audit-key-not-for-production"

# PostgreSQL: dbt connects as this role whatever HEALTHLINK_WAREHOUSE's user (the loader in
# production, the owner in a development database), so everything dbt builds is owned by the
# transformer and the loader can never rewrite the published layer.
TRANSFORMER_ROLE = "healthlink_transformer"
# The role HEALTHLINK_WAREHOUSE names for the daily sync in production (docs/deploy.md).
LOADER_ROLE = "healthlink_loader"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HEALTHLINK_", extra="ignore", hide_input_in_errors=True
    )

    # Production unless told otherwise: development secrets are refused everywhere else, so a
    # deployment that forgets to configure itself fails at start instead of running on them.
    environment: Literal["development", "test", "production"] = "production"
    # State directory: the DuckDB file, the landing zone and the writer lock live here.
    home: Path = Path(".healthlink")
    # Empty: the embedded DuckDB file under `home`. A postgresql:// URL selects PostgreSQL.
    warehouse: str = ""
    registry_dir: Path = Path("registry")
    pseudonym_key: SecretStr = SecretStr(DEVELOPMENT_PSEUDONYM_KEY)
    # Keys the audit chain; it never enters the database (warehouse/audit/trail.py).
    audit_key: SecretStr = SecretStr(DEVELOPMENT_AUDIT_KEY)
    # Append-only file the audit chain head is exported to after every append. Empty: a
    # sibling of `home`, `<home>-audit/heads.jsonl` (production: see docs/security.md).
    audit_head_sink: Path | None = None
    # Default share of rejected rows above which a whole batch is quarantined.
    reject_threshold: float = 0.05
    # An operator's fuller reference code lists (docs/onboarding.md "Fuller reference code
    # lists"): a folder with every code list of dbt_project/reference_codes, same file names and
    # columns, given relative to dbt_project/ (the deployment mounts or links it there). dbt
    # reads the same variable (dbt_project.yml seed-paths); with an absolute seed path dbt 1.11
    # writes its seed SQL over the CSV files themselves. None: the project's lists.
    reference_codes_dir: Path | None = None
    # Bearer token Prometheus must present to scrape `healthlink metrics serve`; required in
    # production (docs/operations.md), compared in constant time.
    metrics_token: SecretStr = SecretStr("")
    # Alerts (warehouse.pipeline.alerts, docs/operations.md "Alerts"). A hospital missing this
    # many days in a row raises `missing`; a day's reject rate above factor x its 30-day
    # baseline raises `reject_rate`, when at least min_rate over at least min_rows rows read.
    alert_missing_days: int = Field(default=2, ge=1)
    alert_reject_factor: float = Field(default=3.0, gt=1)
    alert_reject_min_rate: float = Field(default=0.01, ge=0, le=1)
    alert_reject_min_rows: int = Field(default=100, ge=1)
    # The default ops route: every alert goes to this webhook and/or this address when set.
    alert_webhook_url: SecretStr = SecretStr("")
    alert_email_to: str = ""
    alert_timeout_s: float = Field(default=10.0, gt=0)
    # A failed delivery is retried by later drains after backoff_s x 2^(attempts-1), capped;
    # after max_attempts it is 'dead' (never tried again; metrics and `ops alerts` show it).
    alert_backoff_s: float = Field(default=60.0, ge=0)
    alert_backoff_max_s: float = Field(default=6 * 3600.0, ge=0)
    alert_max_attempts: int = Field(default=10, ge=1)
    # SMTP for the email sink; STARTTLS when smtp_starttls (the server's certificate and name
    # verified, against smtp_ca_file when set). AUTH only over STARTTLS; the password from
    # HEALTHLINK_SMTP_PASSWORD or else the file smtp_password_file names (a mounted secret).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_password_file: Path | None = None
    smtp_from: str = "healthlink-alerts@localhost"
    smtp_starttls: bool = False
    smtp_ca_file: Path | None = None

    @field_validator("reference_codes_dir")
    @classmethod
    def _absolute_reference_codes_dir(cls, value: Path | None) -> Path | None:
        if value is not None and (value.is_absolute() or ".." in value.parts):
            raise ValueError(
                "HEALTHLINK_REFERENCE_CODES_DIR must be a folder inside dbt_project/ (mount or"
                " link the operator's lists there)"
            )
        return value

    @model_validator(mode="after")
    def _refuse_development_secrets(self) -> Settings:
        if (
            self.environment != "development"
            and self.pseudonym_key.get_secret_value() == DEVELOPMENT_PSEUDONYM_KEY
        ):
            raise ValueError(
                "HEALTHLINK_PSEUDONYM_KEY must be set unless HEALTHLINK_ENVIRONMENT=development"
            )
        return self

    @property
    def duckdb_path(self) -> Path:
        return (self.home / "warehouse.duckdb").resolve()

    @property
    def audit_head_sink_path(self) -> Path:
        if self.audit_head_sink is not None:
            return self.audit_head_sink.resolve()
        home = self.home.resolve()
        return home.parent / f"{home.name}-audit" / "heads.jsonl"

    @property
    def landing_dir(self) -> Path:
        return (self.home / "landing").resolve()

    @property
    def lock_path(self) -> Path:
        return (self.home / "warehouse.lock").resolve()

    @property
    def uses_postgres(self) -> bool:
        return self.warehouse.startswith(("postgresql://", "postgres://"))

    def dbt_environment(self) -> dict[str, str]:
        return dbt_environment_for(self.warehouse, self.duckdb_path)


def dbt_environment_for(warehouse: str, duckdb_path: Path) -> dict[str, str]:
    """What dbt_project/profiles.yml reads: the target follows HEALTHLINK_WAREHOUSE; on
    PostgreSQL as the transformer role (its password from HEALTHLINK_PG_TRANSFORMER_PASSWORD)."""
    if warehouse.startswith(("postgresql://", "postgres://")):
        transformer = url_for_role(warehouse, TRANSFORMER_ROLE)
        return {"DBT_TARGET": "postgres", **postgres_environment(transformer)}
    return {"DBT_TARGET": "duckdb", "HEALTHLINK_DUCKDB_PATH": str(duckdb_path)}


def postgres_environment(url: str) -> dict[str, str]:
    """HEALTHLINK_PG_HOST/PORT/USER/PASSWORD/DBNAME from a postgresql:// URL."""
    parts = urlsplit(url)
    return {
        "HEALTHLINK_PG_HOST": parts.hostname or "127.0.0.1",
        "HEALTHLINK_PG_PORT": str(parts.port or 5432),
        "HEALTHLINK_PG_USER": unquote(parts.username or "postgres"),
        "HEALTHLINK_PG_PASSWORD": unquote(parts.password or ""),
        "HEALTHLINK_PG_DBNAME": unquote(parts.path.lstrip("/")) or "healthlink",
    }


def password_variable(role: str) -> str:
    """healthlink_citizen_app → HEALTHLINK_PG_CITIZEN_APP_PASSWORD."""
    return f"HEALTHLINK_PG_{role.removeprefix('healthlink_').upper()}_PASSWORD"


def url_for_role(warehouse_url: str, role: str) -> str:
    """The warehouse URL with another user (and that role's password, when set): each service
    connects as its own role to the database HEALTHLINK_WAREHOUSE names."""
    parts = urlsplit(warehouse_url)
    password = os.environ.get(password_variable(role), "")
    user = quote(role, safe="") + (f":{quote(password, safe='')}" if password else "")
    host = parts.hostname or "127.0.0.1"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{user}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
