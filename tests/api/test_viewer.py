"""The web viewer in real headless Chromium (Debian's /usr/bin/chromium driven by playwright):
login, first-login terms, search, patient list, record by hospital with freshness, per-visit
request, logout and rating, all under the app's strict Content-Security-Policy (the browser
console must report no violation). Screenshots go to tests/artifacts/viewer/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api_server import PINCODE, Server, add_physician

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "viewer"

pytestmark = pytest.mark.usefixtures("chromium")


@pytest.fixture
def page(api_server: Server) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        context = browser.new_context(locale="th-TH", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(20_000)
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.on("pageerror", lambda error: console.append(str(error)))
        page.console_messages_seen = console  # type: ignore[attr-defined]
        yield page
        browser.close()


def _shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_viewer_end_to_end(api_server: Server, page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    cast = api_server.cast
    add_physician(
        api_server.settings, "60001", [cast.one_time_hospitals[0]], name="พญ. ดวงใจ ทดสอบ"
    )
    first_answer = page.goto(f"{api_server.url}/")
    assert first_answer is not None
    policy = first_answer.all_headers().get("content-security-policy", "")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    expect(page.locator("#login-view")).to_be_visible()
    _shot(page, "01-login")

    page.fill("input[name=licence]", "60001")
    page.fill("input[name=pincode]", PINCODE)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#terms-view")).to_be_visible()
    _shot(page, "02-terms")
    page.click("#accept-terms")
    expect(page.locator("#search-view")).to_be_visible()

    first, last = cast.multi_hospital_name
    page.fill("input[name=first_name]", first)
    page.fill("input[name=last_name]", last[:-1] + ("ก" if last[-1] != "ก" else "ข"))  # a typo
    page.click("#search-name-form button[type=submit]")
    expect(page.locator("#results tbody tr").first).to_be_visible()
    expect(page.locator("#results")).to_contain_text(first)
    _shot(page, "03-patient-list")

    page.locator("#results tbody tr", has_text=first).first.locator(".open-record").click()
    expect(page.locator("#record-view")).to_be_visible()
    expect(page.locator(".disclaimer")).to_contain_text("ข้อมูลที่แสดงอาจไม่ครบถ้วน")
    expect(page.locator(".hospital")).to_have_count(4)
    expect(page.locator(".freshness").first).to_contain_text("25")  # Buddhist era year 25xx
    expect(page.locator(".status.per_visit_required")).to_have_count(2)
    expect(page.locator("#record")).to_contain_text("การเข้ารับบริการ")
    _shot(page, "04-record")

    page.click("#request-per-visit")
    expect(page.locator(".status.requested")).to_have_count(2)
    _shot(page, "05-per-visit-requested")

    page.click("#back")
    expect(page.locator("#search-view")).to_be_visible()
    page.click("#logout")
    expect(page.locator("#rating-view")).to_be_visible()
    page.check("input[name=score][value='5']")
    page.fill("textarea[name=comment]", "สะดวกมาก")
    _shot(page, "06-rating")
    page.click("#rating-form button[type=submit]")
    expect(page.locator("#bye-view")).to_be_visible()
    _shot(page, "07-logged-out")

    from warehouse.storage.connection import connect

    with connect(api_server.settings) as conn:
        ratings = conn.execute(
            "SELECT score, comment FROM api.rating WHERE comment = 'สะดวกมาก'"
        ).fetchall()
    assert ratings == [(5, "สะดวกมาก")]
    assert len(list(ARTIFACTS.glob("*.png"))) == 7
    seen: list[str] = page.console_messages_seen  # type: ignore[attr-defined]
    violations = [m for m in seen if "Content Security Policy" in m or "Refused to" in m]
    assert violations == [], violations
