"""``/admin``: login, the ledger with filters and search, a case's timeline, statistics.

Server-rendered pages (Jinja2, autoescaped) so the dashboard works in any browser a
community office has, without a JavaScript build. Every page but the login needs a
session from a password login — also in the demo, whose chat trusts the persona in the
URL: the dashboard shows other people's reports, so it never does.

Usage::

    add_dashboard(app, Dashboard(auth=DashboardAuth(db), db=db, catalog=catalog, ...))
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from bot.admin.auth import DashboardAuth, Operator
from bot.admin.ledger import LedgerFilter, case_in_scope, ledger_page, visible_compounds
from bot.core.catalog import Catalog
from bot.storage.db import Database
from bot.storage.models import CaseStatus, utcnow
from handlers.case_records import case_record
from knowledge.matters import load_matters

log = logging.getLogger(__name__)

COOKIE = "linli_admin"
TEMPLATES = Path(__file__).with_name("templates")
DASHBOARD: web.AppKey[Dashboard] = web.AppKey("dashboard")
Handler = Callable[[web.Request, Operator], Awaitable[web.StreamResponse]]


@dataclass
class Dashboard:
    auth: DashboardAuth
    db: Database
    catalog: Catalog
    timezone: str
    public_https: bool = False
    # Statistics for the operator's compounds as rendered HTML parts; None: no page.
    statistics: Callable[[Operator, dict[str, str]], Awaitable[dict[str, Any]]] | None = None
    chart: Callable[[Operator, str, dict[str, str]], Awaitable[bytes | None]] | None = None

    def __post_init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
        )
        self.env.globals["t"] = self.catalog.t
        self.env.filters["local"] = lambda moment: (
            f"{moment:%Y-%m-%d %H:%M}" if moment is not None else "—"
        )

    def render(self, name: str, status: int = 200, **context: Any) -> web.Response:
        html = self.env.get_template(name).render(**context)
        return web.Response(text=html, status=status, content_type="text/html")


def add_dashboard(app: web.Application, dashboard: Dashboard) -> None:
    app[DASHBOARD] = dashboard
    app.router.add_get("/admin/login", _login_form)
    app.router.add_post("/admin/login", _login)
    app.router.add_post("/admin/logout", _logout)
    app.router.add_get("/admin", _signed_in(_ledger))
    app.router.add_get("/admin/", _signed_in(_ledger))
    app.router.add_get("/admin/cases/{number}", _signed_in(_case))
    app.router.add_get("/admin/stats", _signed_in(_stats))
    app.router.add_get("/admin/charts/{name}.png", _signed_in(_chart))


def _signed_in(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        dashboard = request.app[DASHBOARD]
        operator = await dashboard.auth.operator(request.cookies.get(COOKIE))
        if operator is None:
            target = urlencode({"next": request.path_qs})
            raise web.HTTPFound(f"/admin/login?{target}")
        response = await handler(request, operator)
        response.headers["Cache-Control"] = "no-store"
        return response

    return wrapped


def _safe_next(value: str) -> str:
    """Only a path on this dashboard: never an open redirect."""
    return value if value.startswith("/admin") and not value.startswith("//") else "/admin"


async def _login_form(request: web.Request) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    return dashboard.render("login.html", next=_safe_next(request.query.get("next", "")), error="")


async def _login(request: web.Request) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    form = await request.post()
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:200]
    target = _safe_next(str(form.get("next", "")))
    token = await dashboard.auth.login(username, password)
    if token is None:
        key = "admin.locked" if dashboard.auth.locked(username) else "admin.bad_login"
        log.warning("dashboard login refused for %r", username)
        return dashboard.render(
            "login.html", status=401, next=target, error=dashboard.catalog.t(key)
        )
    log.info("dashboard login: %s", username)
    response = web.HTTPFound(target)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.secure or dashboard.public_https,
        path="/admin",
    )
    raise response


async def _logout(request: web.Request) -> web.StreamResponse:
    await request.app[DASHBOARD].auth.logout(request.cookies.get(COOKIE))
    response = web.HTTPFound("/admin/login")
    response.del_cookie(COOKIE, path="/admin")
    raise response


async def _ledger(request: web.Request, operator: Operator) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    f = LedgerFilter.from_query(request.query)
    async with dashboard.db.transaction() as session:
        page = await ledger_page(session, f, operator.compound_ids, dashboard.timezone, utcnow())
        compounds = await visible_compounds(session, operator.compound_ids)
    matters = sorted(
        ((m.id, m.name) for m in load_matters().matters.values()), key=lambda item: item[1]
    )
    return dashboard.render(
        "ledger.html",
        operator=operator,
        f=f,
        page=page,
        compounds=compounds,
        matters=matters,
        statuses=[s.value for s in CaseStatus],
        levels=["floor", "building", "compound", "joint"],
        query=lambda **changes: urlencode(f.as_query(**changes)),
        section="ledger",
    )


async def _case(request: web.Request, operator: Operator) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    reveal = operator.is_admin and request.query.get("reveal") == "1"
    async with dashboard.db.transaction() as session:
        case = await case_in_scope(session, request.match_info["number"], operator.compound_ids)
        if case is None:
            return dashboard.render("missing.html", status=404, operator=operator, section="")
        record = await case_record(session, case, dashboard.catalog, reveal=reveal, history=True)
    if reveal:
        log.info(
            "dashboard: %s revealed personal data of %s",
            operator.username,
            case.number,
            extra={"case": case.number},
        )
    return dashboard.render(
        "case.html", operator=operator, case=record, reveal=reveal, section="ledger"
    )


async def _stats(request: web.Request, operator: Operator) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    if dashboard.statistics is None:
        raise web.HTTPNotFound()
    params = {k: request.query.get(k, "") for k in ("from", "to", "compound")}
    stats = await dashboard.statistics(operator, params)
    return dashboard.render(
        "stats.html",
        operator=operator,
        stats=stats,
        params=params,
        chart_query=urlencode({k: v for k, v in params.items() if v}),
        section="stats",
    )


async def _chart(request: web.Request, operator: Operator) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    if dashboard.chart is None:
        raise web.HTTPNotFound()
    params = {k: request.query.get(k, "") for k in ("from", "to", "compound")}
    png = await dashboard.chart(operator, request.match_info["name"], params)
    if png is None:
        raise web.HTTPNotFound()
    return web.Response(body=png, content_type="image/png")
