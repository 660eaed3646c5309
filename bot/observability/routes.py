"""The operator's HTTP routes on the web server: ``/healthz``, ``/readyz``, ``/metrics``.

They sit on the same port as the web chat so one process needs one listener; a reverse
proxy facing the internet should not forward ``/metrics`` (deploy/README.md), and
``LINLI_METRICS_TOKEN`` makes it ask for ``Authorization: Bearer <token>``.

Usage::

    app = web.Application()
    add_observability_routes(app, Observability(metrics, Readiness(db), token=""))
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from bot.observability.health import Readiness
from bot.observability.metrics import CONTENT_TYPE, Metrics


@dataclass(frozen=True)
class Observability:
    metrics: Metrics
    readiness: Readiness
    token: str = ""


OBSERVABILITY = web.AppKey("observability", Observability)


def add_observability_routes(app: web.Application, observability: Observability) -> None:
    app[OBSERVABILITY] = observability
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)


async def _healthz(request: web.Request) -> web.Response:
    """200 when the database answers (DESIGN.md §5, which monitors rely on); 503 if not.
    ``/readyz`` adds that the schema is at the code's migration head."""
    ok = await request.app[OBSERVABILITY].readiness.database_answers()
    return web.json_response({"ok": ok}, status=200 if ok else 503)


async def _readyz(request: web.Request) -> web.Response:
    verdict = await request.app[OBSERVABILITY].readiness.check()
    if verdict.ready:
        return web.json_response({"ready": True})
    return web.json_response({"ready": False, "reason": verdict.reason}, status=503)


async def _metrics(request: web.Request) -> web.Response:
    observability = request.app[OBSERVABILITY]
    if observability.token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {observability.token}".encode()):
            return web.json_response({"error": "unauthorised"}, status=401)
    body = await observability.metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
