"""Liveness and readiness for Kubernetes probes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse


async def livez(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    state = request.app.state.cx
    if not state.indexes_ready:
        return JSONResponse({"status": "starting", "mongo": "indexes pending"}, status_code=503)
    if not await state.mongo.ping():
        return JSONResponse({"status": "unavailable", "mongo": "down"}, status_code=503)
    return JSONResponse({"status": "ok", "mongo": "up"})
