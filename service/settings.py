"""Every runtime setting, read from the environment with the prefix ``CX_``."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.domain.model import Calendar, WeekStart


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class AuthMode(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class MongoDriver(StrEnum):
    PYMONGO = "pymongo"
    MOTOR = "motor"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CX_", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    mongo_uri: str | None = Field(
        default=None,
        description="MongoDB URI. Unset: `make run` starts the embedded SecantusDB.",
    )
    mongo_db: str = "cxgraph"
    mongo_driver: MongoDriver = MongoDriver.PYMONGO
    mongo_server_selection_timeout_s: float = Field(default=2.0, gt=0)
    mongo_socket_timeout_s: float = Field(default=10.0, gt=0)
    mongo_query_timeout_s: float = Field(
        default=120.0, gt=0, description="Budget of one metric aggregation."
    )
    data_dir: str = Field(default=".cxgraph/data", description="Embedded database files.")
    default_tenant: str = "default"
    max_batch: int = Field(default=1000, ge=1)
    default_page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=500, ge=1)
    max_string_length: int = Field(default=1000, ge=16)
    max_comment_length: int = Field(default=5000, ge=16)
    max_attributes_bytes: int = Field(default=16_384, ge=64)
    timezone: str = Field(
        default="UTC", description="The tenant's timezone: rollup days and default windows."
    )
    calendar: Calendar = Field(
        default=Calendar.GREGORIAN, description="The tenant's calendar of trend months."
    )
    week_start: WeekStart = Field(
        default=WeekStart.MONDAY, description="The first day of the tenant's trend weeks."
    )
    min_sample: int = Field(default=30, ge=1, description="Below this n a result is lowSample.")
    max_window_days: int = Field(default=400, ge=1)
    fcr_recontact_days: int = Field(
        default=7, ge=0, description="A contact this soon after a case's first re-opens it (FCR)."
    )
    cache_backend: str = Field(default="memory", pattern="^(memory|redis|none)$")
    redis_url: str = "redis://127.0.0.1:6379/0"
    cache_ttl_s: int = Field(default=3600, ge=1)
    response_cache_entries: int = Field(
        default=5000, ge=0, description="Whole query responses kept per process; 0: off."
    )
    version_staleness_ms: int = Field(
        default=1000, ge=0, description="How old a tenant's data version held in memory may be."
    )
    version_feed: str = Field(
        default="auto",
        pattern="^(auto|poll)$",
        description="auto: follow the tenants collection's changes where the database can; "
        "poll: read a version again once it is older than the staleness bound.",
    )
    cache_max_entries: int = Field(
        default=10_000, ge=1, description="Most entries the in-memory metric cache keeps."
    )
    write_recovery_after_s: float = Field(
        default=60.0,
        gt=0,
        description="A write unfinished for this long had its process die: apply its effects.",
    )
    drift_check_interval_s: float = Field(
        default=0.0, ge=0, description="Seconds between sampled rollup drift checks; 0: off."
    )
    drift_check_sample_days: int = Field(default=7, ge=1)
    drivers_max_responses: int = Field(
        default=20_000,
        ge=1,
        description="Most survey responses one `drivers` analysis reads; more: TOO_MANY_RESPONSES.",
    )
    # -- rollups kept warm, single-flight, allow-list (docs/adr/0023) ----------------------
    warm_rollups: bool = Field(
        default=True, description="Materialise the rollup days a write touched in the background."
    )
    warm_concurrency: int = Field(
        default=2, ge=1, description="Background materialisations one process runs at once."
    )
    warm_delay_ms: int = Field(
        default=200, ge=0, description="How long a touched day waits (gathering more writes)."
    )
    warm_lease_s: float = Field(
        default=60.0, gt=0, description="How long one replica holds a tenant-day it materialises."
    )
    single_flight_timeout_ms: int = Field(
        default=5000,
        ge=0,
        description="Redis lock of a metric computation: others wait this long at most; 0: off.",
    )
    only_registered_queries: bool = Field(
        default=False, description="Answer only documents registered with `cxgraph queries`."
    )
    # -- security (README "Security") -----------------------------------------------------
    auth: AuthMode = Field(
        default=AuthMode.ENABLED,
        description="`disabled` lets anonymous requests act for CX_DEFAULT_TENANT (never in "
        "production).",
    )
    api_key_pepper: str = Field(default="", description="Secret key of the API-key hash.")
    auth_cache_s: float = Field(
        default=5.0, ge=0, description="How long a verified API key is trusted before re-reading."
    )
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    jwt_jwks_file: str | None = None
    jwt_algorithms: str = Field(default="", description="Comma list; empty: from the key kind.")
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_tenant_claim: str = "tenant"
    jwt_scopes_claim: str = "scope"
    jwt_leeway_s: float = Field(default=30.0, ge=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_query_cost: int = Field(default=5000, ge=1, description="Refused above (cost model).")
    body_timeout_s: float = Field(
        default=60.0, gt=0, description="A request body must have arrived by then, else 408."
    )
    send_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="A client that takes no part of an answer for this long is disconnected.",
    )
    rate_limit_per_minute: int = Field(default=600, ge=0, description="Per credential; 0: off.")
    rate_limit_cost_per_minute: int = Field(
        default=100_000, ge=0, description="Query cost per minute per credential; 0: off."
    )
    rate_limit_storage: str = Field(default="memory", pattern="^(memory|redis)$")
    cors_origins: str = Field(default="", description="Comma list of origins; empty: no CORS.")
    metrics_public: bool = Field(
        default=False, description="/metrics without a credential (else it needs `admin`)."
    )
    # -- live subscriptions (README "Live metrics") ------------------------------------------
    subscription_debounce_ms: int = Field(
        default=1000,
        ge=0,
        description="A subscription answers once the writes have paused this long.",
    )
    subscriptions_per_key: int = Field(
        default=20, ge=1, description="Open subscriptions one credential may hold per replica."
    )
    subscription_init_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="A WebSocket must send connection_init this soon after opening (4408).",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "info"
    shutdown_delay_s: float = Field(
        default=1.0,
        ge=0,
        description="After SIGTERM: /readyz answers 503 while new requests are still served.",
    )
    shutdown_grace_s: float = Field(
        default=20.0, gt=0, description="Then: how long in-flight requests may take to finish."
    )
    otel_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP collector URL; unset, tracing is off."
    )
    # -- webhooks (docs/webhooks.md) -------------------------------------------------------
    webhook_allow_private: bool = Field(
        default=False,
        description="Let webhooks reach loopback, private and link-local addresses (tests).",
    )
    webhook_max_attempts: int = Field(
        default=10, ge=1, le=100, description="Attempts per delivery before it is FAILED."
    )
    webhook_retry_base_s: float = Field(
        default=30.0, gt=0, description="The first retry's delay; it doubles each time."
    )
    webhook_retry_max_s: float = Field(
        default=3600.0, gt=0, description="The longest delay between two attempts."
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="How long one attempt may take before it fails."
    )
    webhook_poll_interval_s: float = Field(
        default=1.0, gt=0, description="How often a replica looks for due deliveries."
    )
    webhook_concurrency: int = Field(
        default=4, ge=1, le=64, description="Deliveries one replica sends at once."
    )
    webhook_threshold_debounce_ms: int = Field(
        default=2000,
        ge=0,
        description="metric.threshold: quiet time after a write before thresholds are checked.",
    )
    webhook_retention_days: int = Field(
        default=30, ge=1, description="Finished deliveries are kept this many days."
    )

    @model_validator(mode="after")
    def _production_needs_credentials(self) -> Settings:
        if self.env is Environment.PRODUCTION and self.auth is AuthMode.DISABLED:
            raise ValueError("CX_AUTH=disabled is refused when CX_ENV=production")
        return self

    @property
    def production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def graphiql(self) -> bool:
        return self.env is Environment.DEVELOPMENT


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
