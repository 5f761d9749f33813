"""What every GraphQL request can reach: its tenant and the domain services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from service.domain.principal import Principal
from service.domain.records import CustomerRecord
from service.ingest.service import Ingestor
from service.metrics.service import MetricsService
from service.reading.reader import Reader
from service.settings import Settings


@dataclass
class RequestContext:
    tenant: str  # always the principal's: never from an argument or a header
    principal: Principal
    request_id: str
    deadline: float  # time.monotonic() by which the answer is due (the edge's RequestScope)
    settings: Settings
    reader: Reader
    ingestor: Ingestor
    metrics: MetricsService
    rate_limiter: Any = None  # service.http.rate_limits.RateLimiter (the query-cost budget)
    webhooks: Any = None  # service.webhooks.service.WebhookService
    request: Any = None
    response: Any = None
    cost: int | None = None  # the query's cost, once computed (resolvers/cost.py)
    operation_name: str | None = None
    customer_loader: DataLoader[str, CustomerRecord | None] = field(init=False)

    def __post_init__(self) -> None:
        async def load(ids: list[str]) -> list[CustomerRecord | None]:
            return await self.reader.customers_by_id(self.tenant, ids)

        self.customer_loader = DataLoader(load_fn=load)


if TYPE_CHECKING:
    CxInfo = Info[RequestContext, None]
else:
    CxInfo = Info
