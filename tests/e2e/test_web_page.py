"""The web chat page in a real Chromium, against a real ``linli demo`` server.

One demo server (fresh SQLite file) serves the whole module; each test gets its own
browser context (fresh localStorage), so every "new guest" is a new user id.
Ctrl-C is part of the contract: the server must stop cleanly on SIGINT.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.demo_server import run_demo
from tests.factories import png_bytes

try:
    from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
except ImportError:  # checked in the browser fixture
    sync_playwright = None

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEW_GUEST = "__guest__"  # app.js: the persona option that creates a fresh guest id


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a running ``linli demo``; asserts it stops cleanly on SIGINT."""
    with run_demo(tmp_path_factory.mktemp("demo")) as demo:
        yield demo.base


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(
        base_url=server, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto("/")
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def bot_says(page: Page, text: str) -> Locator:
    """The newest bot message containing ``text``, once it is on screen."""
    message = page.locator(".msg.bot").filter(has_text=text).last
    expect(message).to_be_visible()
    return message


def tap(page: Page, label: str) -> None:
    """Tap the button ``label`` in the newest bot message that offers it."""
    bot_says(page, label).locator(".buttons button").filter(has_text=label).click()


def send_text(page: Page, text: str) -> None:
    page.fill("#input", text)
    page.press("#input", "Enter")


def new_guest(page: Page) -> str:
    page.select_option("#persona", NEW_GUEST)
    guest = page.eval_on_selector("#persona", "el => el.value")
    assert guest.startswith("guest-")
    bot_says(page, "请选择您住的楼栋")
    return guest


def test_demo_resident_is_recognised_and_me_shows_their_flat(page: Page) -> None:
    page.select_option("#persona", "resident-1")
    greeting = bot_says(page, "1502")
    expect(greeting).to_contain_text("张秀英")
    expect(page.locator(".msg.me")).to_have_count(0)  # the automatic /start has no bubble
    bots = page.locator(".msg.bot")
    before = bots.count()

    send_text(page, "/me")

    expect(page.locator(".msg.me .text")).to_have_text(["/me"])
    expect(bots).to_have_count(before + 1)
    expect(bots.last.locator(".text")).to_contain_text("1栋1单元1502")


def test_new_guest_registers_with_buttons_and_is_restored_after_reload(page: Page) -> None:
    guest = new_guest(page)
    buildings = bot_says(page, "请选择您住的楼栋").locator(".buttons button")
    expect(buildings).to_have_text([f"{n}栋" for n in range(1, 7)])

    tap(page, "1栋")
    units = bot_says(page, "2单元").locator(".buttons button")
    expect(units).to_have_text(["1单元", "2单元"])
    tap(page, "2单元")
    bot_says(page, "1栋2单元：请输入房号")
    send_text(page, "1502")
    relations = bot_says(page, "租户").locator(".buttons button")
    expect(relations).to_contain_text(["业主", "租户", "家庭成员"])
    tap(page, "租户")
    confirm = bot_says(page, "1栋2单元1502")
    expect(confirm.locator(".buttons button")).to_contain_text(["确认", "重新填写"])
    tap(page, "确认")
    bot_says(page, "登记成功")

    page.reload()
    expect(page.locator("#persona")).to_have_value(guest)
    bot_says(page, "登记成功")
    expect(page.locator(".msg.bot").filter(has_text="登记成功")).to_have_count(1)
    expect(page.locator(".msg.bot").filter(has_text="请选择您住的楼栋")).to_have_count(1)


def test_guest_can_type_the_whole_address_in_one_line(page: Page) -> None:
    new_guest(page)
    send_text(page, "一栋二单元1502室")

    relations = bot_says(page, "租户").locator(".buttons button")
    expect(relations).to_contain_text(["业主", "租户", "家庭成员"])
    expect(page.locator(".buttons button").filter(has_text="单元")).to_have_count(0)


def test_message_over_the_limit_is_blocked_and_the_limit_shown(page: Page) -> None:
    page.select_option("#persona", "resident-1")
    bot_says(page, "1502")
    page.fill("#input", "a" * 10_000)

    # app.js disables sending beyond config.max_text and shows the counter instead.
    expect(page.locator("#counter")).to_be_visible()
    expect(page.locator("#counter")).to_have_text("10000/4000")
    expect(page.locator("#send")).to_be_disabled()
    page.press("#input", "Enter")
    page.click("#send", force=True)
    expect(page.locator(".msg.me")).to_have_count(0)
    expect(page.locator("#input")).to_have_value("a" * 10_000)  # nothing lost either


def test_pressing_an_old_button_after_the_step_moved_on_says_expired(page: Page) -> None:
    new_guest(page)
    first = bot_says(page, "请选择您住的楼栋").locator(".buttons button").filter(has_text="1栋")
    first.click()
    bot_says(page, "2单元")

    first.click()

    expired = bot_says(page, "过期")
    expect(expired).to_contain_text("已经过期")


def test_resident_reports_with_a_photo_from_the_page(page: Page, tmp_path: Path) -> None:
    photo = tmp_path / "leak.png"
    photo.write_bytes(png_bytes())
    page.select_option("#persona", "resident-2")
    bot_says(page, "1602")

    page.set_input_files("#photo", str(photo))

    mine = page.locator(".msg.me").last
    expect(mine.locator("img.photo")).to_be_visible()
    bot_says(page, "照片收到了")
    send_text(page, "单元门的门禁坏了，刷卡没反应")
    expect(page.locator(".msg.bot .buttons button").filter(has_text="门禁").last).to_be_visible()


def test_secretary_attaches_a_pdf_and_a_building_1_resident_opens_it(
    page: Page, tmp_path: Path
) -> None:
    notice = tmp_path / "法治进小区活动安排.pdf"
    notice.write_bytes(b"%PDF-1.4\n% linli e2e\n%%EOF\n")
    page.select_option("#persona", "secretary")
    send_text(page, "发布通知")
    bot_says(page, "请发送通知内容")
    page.set_input_files("#file", str(notice))
    expect(page.locator(".msg.me").last.locator(".document")).to_have_text(f"📎 {notice.name}")
    bot_says(page, f"文件「{notice.name}」已收到")
    send_text(page, "本周六上午在1栋楼下开展普法宣传，活动安排见附件。")
    tap(page, "1栋")
    tap(page, "立即发送")
    bot_says(page, f"[附件：{notice.name}]")
    tap(page, "确认发送")
    bot_says(page, "开始发送")

    page.select_option("#persona", "resident-1")
    link = bot_says(page, "活动安排见附件").locator("a.document")
    expect(link).to_have_text(f"📎 {notice.name}")
    response = page.request.get(link.get_attribute("href") or "")
    assert response.ok and response.body() == notice.read_bytes()
    assert "inline" in response.headers["content-disposition"]
