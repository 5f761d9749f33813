"""What every GraphQL request can reach: its tenant and the domain services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from service.auth.principal import Principal
from service.ingest.service import Ingestor
from service.metrics.service import MetricsService
from service.reader import Reader
from service.settings import Settings
from service.store.client import Doc


@dataclass
class RequestContext:
    tenant: str  # always the principal's: never from an argument or a header
    principal: Principal
    request_id: str
    settings: Settings
    reader: Reader
    ingestor: Ingestor
    metrics: MetricsService
    rate_limiter: Any = None  # service.rate_limits.RateLimiter (the query-cost budget)
    request: Any = None
    response: Any = None
    cost: int | None = None  # the query's cost, once computed (resolvers/cost.py)
    operation_name: str | None = None
    customer_loader: DataLoader[str, Doc | None] = field(init=False)

    def __post_init__(self) -> None:
        async def load(ids: list[str]) -> list[Doc | None]:
            return await self.reader.customers_by_id(self.tenant, ids)

        self.customer_loader = DataLoader(load_fn=load)
