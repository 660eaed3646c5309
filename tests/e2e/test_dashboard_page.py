"""The /admin dashboard in a real Chromium against a real ``linli demo``: login, the
ledger with its filters, a case's timeline, the statistics with charts, logout."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from bot.demo import DEMO_PASSWORD
from tests.e2e.demo_server import run_demo
from tests.e2e.test_demo_acceptance import Api

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # checked in the browser fixture
    sync_playwright = None

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A running demo with one reported case; yields (base URL, case number)."""
    with run_demo(tmp_path_factory.mktemp("dashboard")) as server:
        api = Api(server.base)
        first = api.say("resident-1", "楼上卫生间漏水到我家天花板了")
        if first[-1]["key"] == "consult.answer":
            api.press("resident-1", "我要报事")
        api.press("resident-1", "楼上漏水、渗水")
        api.press("resident-1", "楼上")
        api.press("resident-1", "下一步")
        created = api.press("resident-1", "提交")[-1]
        yield server.base, created["text"].split("编号 ")[1].split()[0]


@pytest.fixture
def page(browser: Browser, demo: tuple[str, str]) -> Iterator[Page]:
    context = browser.new_context(base_url=demo[0], viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _login(page: Page, user: str, password: str) -> None:
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def test_secretary_logs_in_filters_the_ledger_and_reads_a_timeline(
    page: Page, demo: tuple[str, str]
) -> None:
    _, number = demo
    page.goto("/admin")
    expect(page).to_have_url(re.compile(r"/admin/login"))
    _login(page, "secretary", "wrong-password")
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码不对")
    _login(page, "secretary", DEMO_PASSWORD)
    expect(page.locator("#ledger")).to_contain_text(number)
    expect(page.locator("#total")).to_contain_text("共 1 件")

    page.get_by_label("状态").select_option(label="已关闭")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#total")).to_contain_text("共 0 件")
    page.get_by_label("状态").select_option(label="未办结")
    page.get_by_label("搜索").fill("天花板")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#ledger")).to_contain_text(number)

    page.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)
    expect(page.locator("#timeline")).to_contain_text("报事")
    expect(page.locator("main")).to_contain_text("张*英")  # masked for a secretary

    page.get_by_role("link", name="统计").click()
    expect(page.locator("#figures")).to_contain_text("报事数")
    chart = page.locator("img.chart").first
    expect(chart).to_be_visible()
    page.wait_for_function("() => document.querySelector('img.chart').naturalWidth > 0")

    page.get_by_role("button", name="退出").click()
    page.goto("/admin")
    expect(page).to_have_url(re.compile(r"/admin/login"))
