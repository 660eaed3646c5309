"""The /admin dashboard over HTTP: login, scope, filters, the case timeline, masking."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.admin.auth import DashboardAuth, LoginError, hash_password, verify_password
from bot.app import App
from bot.cli import main
from bot.demo import DEMO_PASSWORD, seed_dashboard_logins
from bot.storage.db import Database
from bot.storage.models import AdminSession, Case, ChannelIdentity
from handlers.structure import Shape, create_compound
from tests.chat import CoreChat
from tests.conftest import make_app
from tests.databases import seed_demo_file

LEAK = "楼上卫生间漏水到我家天花板了，墙皮都泡了"


async def _report(chat: CoreChat, user: str = "resident-1") -> str:
    await chat.report(user, LEAK)
    await chat.press(user, "楼上漏水、渗水")
    await chat.press(user, "楼上")
    await chat.press(user, "下一步")
    created = await chat.press(user, "提交")
    assert created[-1].key == "report.created"
    return created[-1].text.split("编号 ")[1].split()[0]


@pytest.fixture
async def site(db: Database) -> AsyncIterator[tuple[App, TestClient, str]]:
    app = await make_app(db)
    chat = CoreChat(app)
    number = await _report(chat)
    await seed_dashboard_logins(app.dashboard_auth)
    client = TestClient(TestServer(app.web_app()))
    await client.start_server()
    yield app, client, number
    await client.close()
    await app.close()


async def _login(client: TestClient, user: str, password: str = DEMO_PASSWORD) -> int:
    response = await client.post(
        "/admin/login",
        data={"username": user, "password": password, "next": "/admin"},
        allow_redirects=False,
    )
    return response.status


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("scrypt$")
    assert verify_password("correct horse", first)
    assert not verify_password("wrong horse", first)
    assert not verify_password("correct horse", "garbage")


async def test_dashboard_needs_a_login_even_in_demo_trust_mode(
    site: tuple[App, TestClient, str],
) -> None:
    _, client, number = site
    for path in ("/admin", f"/admin/cases/{number}", "/admin/stats"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 302
        assert response.headers["Location"].startswith("/admin/login")


async def test_wrong_password_is_refused_and_five_failures_lock_the_name(
    site: tuple[App, TestClient, str],
) -> None:
    _, client, _ = site
    assert await _login(client, "secretary", "nope-nope") == 401
    for _ in range(4):
        await _login(client, "secretary", "nope-nope")
    response = await client.post(
        "/admin/login", data={"username": "secretary", "password": DEMO_PASSWORD}
    )
    assert response.status == 401 and "5 分钟" in await response.text()


async def test_secretary_sees_the_ledger_filters_and_the_masked_timeline(
    site: tuple[App, TestClient, str],
) -> None:
    _, client, number = site
    assert await _login(client, "secretary") == 302
    page = await (await client.get("/admin")).text()
    assert number in page and "楼上漏水" in page and "共 1 件" in page
    assert "共 0 件" in await (await client.get("/admin?status=closed")).text()
    assert number in await (await client.get("/admin?status=open&q=天花板")).text()
    case = await (await client.get(f"/admin/cases/{number}")).text()
    assert "张*英" in case and "张秀英" not in case  # the reporter is masked
    assert "1栋1单元****" in case
    assert "显示个人信息" not in case  # only an admin may reveal
    assert "张秀英" not in await (await client.get(f"/admin/cases/{number}?reveal=1")).text()


async def test_admin_may_reveal_personal_data_on_request(
    site: tuple[App, TestClient, str],
) -> None:
    _, client, number = site
    assert await _login(client, "admin") == 302
    revealed = await (await client.get(f"/admin/cases/{number}?reveal=1")).text()
    assert "张秀英" in revealed and "1栋1单元1502" in revealed


async def test_secretary_cannot_reach_another_compounds_cases(
    site: tuple[App, TestClient, str],
) -> None:
    app, client, number = site
    async with app.db.transaction() as session:
        other, _ = await create_compound(session, "HYJY", "洪雅家园", Shape(1, 1, 2, [2]))
        case = await session.scalar(select(Case).where(Case.number == number))
        assert case is not None
        case.compound_id = other.id  # the only case now belongs to another compound
    assert await _login(client, "secretary") == 302
    assert "共 0 件" in await (await client.get("/admin")).text()
    assert "共 0 件" in await (await client.get("/admin?compound=HYJY")).text()
    response = await client.get(f"/admin/cases/{number}")
    assert response.status == 404


async def test_logout_ends_the_session(site: tuple[App, TestClient, str]) -> None:
    app, client, _ = site
    assert await _login(client, "admin") == 302
    assert (await client.get("/admin", allow_redirects=False)).status == 200
    await client.post("/admin/logout", allow_redirects=False)
    assert (await client.get("/admin", allow_redirects=False)).status == 302
    async with app.db.transaction() as session:
        assert (await session.scalars(select(AdminSession))).all() == []


async def test_login_redirect_never_leaves_the_dashboard(
    site: tuple[App, TestClient, str],
) -> None:
    _, client, _ = site
    response = await client.post(
        "/admin/login",
        data={"username": "admin", "password": DEMO_PASSWORD, "next": "https://evil.example/"},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/admin"


async def test_only_secretaries_and_admins_get_accounts_with_real_passwords(app: App) -> None:
    async with app.db.transaction() as session:
        ids = dict(
            (
                await session.execute(
                    select(ChannelIdentity.external_id, ChannelIdentity.user_id).where(
                        ChannelIdentity.external_id.in_(["resident-1", "admin"])
                    )
                )
            )
            .tuples()
            .all()
        )
    with pytest.raises(LoginError, match="only secretaries and admins"):
        await app.dashboard_auth.create_account("resident", "long-enough-pw", ids["resident-1"])
    with pytest.raises(LoginError, match="at least"):
        await app.dashboard_auth.create_account("admin", "short", ids["admin"])


def test_operator_adds_a_dashboard_login_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path}/linli.db"
    asyncio.run(seed_demo_file(db_url))
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    args = ["dashboard", "add-login", "liu", "--name", "刘红梅", "--password-stdin", "--db", db_url]
    assert main(args) == 0
    assert "dashboard login 'liu' for 刘红梅" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    with pytest.raises(SystemExit, match="no secretary or admin"):
        main(
            [
                "dashboard",
                "add-login",
                "zhang",
                "--name",
                "张秀英",
                "--password-stdin",
                "--db",
                db_url,
            ]
        )

    async def check() -> str | None:
        database = Database(db_url)
        try:
            return await DashboardAuth(database).login("liu", "a-long-password")
        finally:
            await database.dispose()

    assert asyncio.run(check()) is not None


async def test_statistics_page_shows_the_figures_and_charts_of_the_operators_compounds(
    site: tuple[App, TestClient, str],
) -> None:
    _, client, _ = site
    assert await _login(client, "secretary") == 302
    page = await (await client.get("/admin/stats")).text()
    assert "报事数" in page and "按时办结率" in page
    assert "/admin/charts/cases_by_status.png" in page
    chart = await client.get("/admin/charts/cases_by_status.png")
    assert chart.status == 200 and (await chart.read()).startswith(b"\x89PNG")
    assert (await client.get("/admin/charts/nope.png")).status == 404
