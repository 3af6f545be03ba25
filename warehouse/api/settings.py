"""API configuration, read from the environment (prefix HEALTHLINK_API_).

The warehouse itself (home, DuckDB file or PostgreSQL URL) comes from warehouse.settings;
this class only holds what the API adds. Development defaults are refused elsewhere.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from warehouse.settings import get_settings

DEVELOPMENT_CITIZEN_APP_TOKEN = "citizen-app-development-token-not-for-production"


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEALTHLINK_API_", extra="ignore")

    # Short-lived physician sessions; each request checks expiry and suspension.
    token_ttl_minutes: int = 30
    # Login throttle (warehouse/api/throttle.py): wrong pincodes per licence (or admin name)
    # and client address before a lock; locks start short and double up to the cap.
    lockout_failures: int = 5
    lockout_first_minutes: float = 1.0
    lockout_max_minutes: float = 60.0
    # Failed logins of one client address across every licence and admin name.
    login_address_failures: int = 50
    # Request limits (warehouse/api/limits.py). Counters live in the warehouse (api.rate_limit),
    # so every API worker shares them; a window starts at an actor's first request.
    # Searches per actor (physician licence, else session token) per minute:
    search_per_minute: int = Field(default=30, ge=1)
    # Other patient-touching requests (record, FHIR, per-visit, break-glass, citizen app)
    # per actor per minute, and every patient-touching request per client address per minute
    # (a hospital's physicians may share one address behind NAT: keep it generous).
    patient_per_minute: int = Field(default=60, ge=1)
    address_per_minute: int = Field(default=600, ge=1)
    # Request bodies above this many bytes are refused with 413 (declared or streamed).
    body_limit_bytes: int = Field(default=64 * 1024, ge=1024)
    # Swagger UI at /docs (served from the app's own files, never a CDN); the OpenAPI
    # document stays at /openapi.json.
    docs_enabled: bool = True
    # The citizen app approves or declines per-visit requests with this bearer token.
    citizen_app_token: SecretStr = SecretStr(DEVELOPMENT_CITIZEN_APP_TOKEN)
    terms_version: str = "2026-01"
    # PostgreSQL only (warehouse/api/postgres.py): the URLs the API connects with. Empty:
    # HEALTHLINK_WAREHOUSE's host and database as healthlink_api / healthlink_citizen_app.
    warehouse_url: SecretStr = SecretStr("")
    consent_service_url: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _refuse_development_secrets(self) -> ApiSettings:
        environment = get_settings().environment
        if (
            environment != "development"
            and self.citizen_app_token.get_secret_value() == DEVELOPMENT_CITIZEN_APP_TOKEN
        ):
            raise ValueError("HEALTHLINK_API_CITIZEN_APP_TOKEN must be set outside development")
        return self


@lru_cache(maxsize=1)
def get_api_settings() -> ApiSettings:
    return ApiSettings()
