"""Routes for the operator's probes, without login: `/healthz` (the process answers), `/readyz`
(database reachable, scheduler alive, last poll not overdue) and `/metrics` (Prometheus).

They show counts and times only, never an address or a name. Database work runs in a thread
with a time limit, so a hung database makes `/readyz` answer 503 instead of hanging the probe.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

PROBE_TIMEOUT = 5.0
NO_STORE = {"cache-control": "no-store"}


def _scheduler_here(request: Request) -> bool | None:
    info: Any = getattr(request.app.state, "service", None)
    if info is None:  # `actwatch web`: a scheduler, if any, runs elsewhere
        return None
    running: bool | None = info.scheduler_running
    if running is False and info.standby:
        return None  # a standby waits for the lock: its web side is ready all the same
    return running


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


async def readyz(request: Request) -> Response:
    from actwatch.monitor.status import readiness

    state = request.app.state
    try:
        result = await asyncio.wait_for(
            run_in_threadpool(
                readiness, state.engine, state.config, scheduler_here=_scheduler_here(request)
            ),
            PROBE_TIMEOUT,
        )
    except TimeoutError:
        return JSONResponse(
            {"ready": False, "checks": {"database": {"ok": False, "error": "timed out"}}},
            status_code=503,
            headers=NO_STORE,
        )
    return JSONResponse(
        {"ready": result.ready, "status": result.status, "checks": result.checks},
        status_code=200 if result.ready else 503,
        headers=NO_STORE,
    )


async def metrics(request: Request) -> Response:
    from actwatch.monitor.metrics import CONTENT_TYPE, render_metrics
    from actwatch.monitor.status import collect

    state = request.app.state
    try:
        summary = await asyncio.wait_for(
            run_in_threadpool(collect, state.engine, state.config), PROBE_TIMEOUT
        )
    except Exception:
        # Prometheus records a failed scrape (actwatch_up absent): the database is unwell.
        return PlainTextResponse("database unavailable\n", status_code=503, headers=NO_STORE)
    return Response(render_metrics(summary), media_type=CONTENT_TYPE, headers=NO_STORE)


def routes() -> list[Route]:
    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
