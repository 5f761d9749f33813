"""Every runtime setting, read from the environment with the prefix ``CX_``."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


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
    min_sample: int = Field(default=30, ge=1, description="Below this n a result is lowSample.")
    max_window_days: int = Field(default=400, ge=1)
    fcr_recontact_days: int = Field(
        default=7, ge=0, description="A contact this soon after a case's first re-opens it (FCR)."
    )
    cache_backend: str = Field(default="memory", pattern="^(memory|redis|none)$")
    redis_url: str = "redis://127.0.0.1:6379/0"
    cache_ttl_s: int = Field(default=3600, ge=1)
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
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "info"

    @property
    def graphiql(self) -> bool:
        return self.env is Environment.DEVELOPMENT


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
