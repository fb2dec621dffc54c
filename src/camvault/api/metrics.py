"""``GET /api/v1/metrics``: camvault's figures in the Prometheus text format.

The route serves whatever text the function it is given returns (the CLI passes the gateway's
and the processor's figures, :func:`camvault.gateway.metrics.exposition`); it never opens the
spool or reads settings itself.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from camvault.api import API

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def metrics_router(read: Callable[[], str] | None, *, prefix: str = API) -> APIRouter:
    """The metrics route serving ``read()``; no route when ``read`` is None (nothing to report)."""
    router = APIRouter()
    if read is None:
        return router

    @router.get(f"{prefix}/metrics", response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(read(), media_type=CONTENT_TYPE)

    return router
