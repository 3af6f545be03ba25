"""The operations page (/ops/) over real HTTP against a served warehouse whose ledger the
pipeline's own steps wrote: the ops login, the session kind checked both ways (a physician's
token is refused on /ops/, an ops token on the patient routes), the filters and bad input
(400/422, never 500), and the page in headless Chromium under the strict CSP with its two
SVG charts drawn. Screenshots go to tests/artifacts/ops/."""

from __future__ import annotations

import base64
import re
import shutil
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api_server import PINCODE, Server, bearer
from tests.support.machine import START
from tests.support.ops_page import OPS_PASSWORD, OPS_PHYSICIAN, OPS_USER, OpsPage, prepare_ops_page

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "ops"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def ops_server(api_server: Server) -> OpsPage:
    return prepare_ops_page(api_server)


def _ops_client(server: OpsPage) -> httpx.Client:
    """A client holding an ops session cookie (the form login, as a browser does it)."""
    client = httpx.Client(base_url=server.url, timeout=60)
    answer = client.post("/ops/login", data={"username": OPS_USER, "password": OPS_PASSWORD})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/ops/"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ops" in cookie
    return client


def _physician_token(server: OpsPage) -> str:
    answer = httpx.post(
        f"{server.url}/auth/login", json={"licence": OPS_PHYSICIAN, "pincode": PINCODE}
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def _charts(page_html: str) -> list[str]:
    """The SVG documents of the page's <img> data: URLs."""
    marker = 'src="data:image/svg+xml;base64,'
    parts = page_html.split(marker)[1:]
    return [base64.b64decode(part.split('"', 1)[0]).decode("utf-8") for part in parts]


def test_login_refusals_and_kind_enforcement(ops_server: OpsPage, api_server: Server) -> None:
    cast = api_server.cast
    with httpx.Client(base_url=ops_server.url, timeout=60) as anonymous:
        assert anonymous.get("/ops/").status_code == 401
        wrong = anonymous.post("/ops/login", data={"username": OPS_USER, "password": "wrong-one"})
        assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
        assert "wrong-one" not in wrong.text and "set-cookie" not in wrong.headers
        assert anonymous.post("/ops/login", data={"username": OPS_USER}).status_code == 422
    physician = _physician_token(ops_server)
    # A physician's session is not an ops session, by header or as the cookie.
    assert httpx.get(f"{ops_server.url}/ops/", headers=bearer(physician)).status_code == 401
    assert httpx.get(f"{ops_server.url}/ops/", cookies={"hl_ops": physician}).status_code == 401
    with closing(_ops_client(ops_server)) as client:
        assert client.get("/ops/").status_code == 200
        ops_token = client.cookies["hl_ops"]
        # An ops session reads no patient (a real one's) and is no physician session.
        for method, path, body in [
            ("GET", "/auth/session", None),
            ("POST", "/patients/search", {"national_id": cast.multi_hospital_cid}),
            ("GET", f"/patients/{cast.multi_hospital_patient}/record", None),
        ]:
            answer = httpx.request(
                method, f"{ops_server.url}{path}", json=body, headers=bearer(ops_token)
            )
            assert answer.status_code in (401, 403), (path, answer.status_code)
        # Logging out ends the session server-side, not only the cookie.
        assert client.post("/ops/logout").status_code == 303
        assert httpx.get(f"{ops_server.url}/ops/", headers=bearer(ops_token)).status_code == 401


def test_page_content_and_filters(ops_server: OpsPage) -> None:
    codes = ops_server.codes
    quarantined_code, quarantined_day = ops_server.quarantined
    with closing(_ops_client(ops_server)) as client:
        page = client.get("/ops/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        assert "<script" not in page.text and "style=" not in page.text
        charts = _charts(page.text)
        assert len(charts) == 2 and all("<svg" in chart for chart in charts)
        assert all("<script" not in chart for chart in charts)
        for code in codes:
            assert code in charts[0]  # the heatmap's rows
        assert quarantined_day.isoformat() in page.text and "reject_rate" in page.text
        assert "not_null" in page.text and "date_readable" in page.text
        assert f"build-{START.isoformat()}" not in page.text  # runs come from ops.batch
        assert "ops-page-" in page.text
        # One hospital: the others' codes are gone from tables and charts.
        one = client.get("/ops/", params={"hospital": quarantined_code})
        assert one.status_code == 200
        others = [c for c in codes if c != quarantined_code]
        assert all(c not in one.text for c in others)
        assert quarantined_code in "".join(_charts(one.text))
        # A region and a network select the registry's hospitals of that region / network.
        region = client.get("/ops/", params={"region": ops_server.region, "days": 5})
        assert region.status_code == 200 and codes[0] in _charts(region.text)[0]
        network = client.get("/ops/", params={"network": ops_server.network, "region": ""})
        assert network.status_code == 200 and codes[0] in _charts(network.text)[0]
        # Bad input: 422 for malformed values, 400 for unknown codes; never a 500, never the
        # value echoed back.
        for params, expected in [
            ({"region": "14"}, 422),
            ({"region": "x"}, 422),
            ({"days": "0"}, 422),
            ({"days": "100000000000000000000"}, 422),
            ({"hospital": "1234"}, 422),
            ({"hospital": "<svg>"}, 422),
            ({"network": "a" * 50}, 422),
            ({"network": "NOPE9"}, 400),
            ({"hospital": "99999"}, 400),
        ]:
            answer = client.get("/ops/", params=params)
            assert answer.status_code == expected, (params, answer.status_code)
            assert "<svg>" not in answer.text and "NOPE9" not in answer.text
        assert client.get("/ops/", params={"network": "NOPE9"}).json()["detail"] == (
            "unknown_network"
        )


def _coverage_rows(page_html: str) -> list[list[str]]:
    """The cells of the page's code coverage table, row by row."""
    section = page_html.split("<h2>Code coverage</h2>", 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in body.split("</tr>")[:-1]]


def test_code_coverage_from_the_dbt_model(ops_server: OpsPage, api_server: Server) -> None:
    """Code coverage per hospital and code system, from the build's rpt_unmapped_codes (read
    as healthlink_ops on PostgreSQL), worst first, narrowed by the filters."""
    from warehouse.storage.connection import connect

    with connect(api_server.settings) as conn:
        expected = conn.execute(
            "SELECT hospital_code, code_system, sum(coded_rows), sum(unmapped_rows) "
            "FROM marts.rpt_unmapped_codes GROUP BY hospital_code, code_system"
        ).fetchall()
    assert len(expected) > len(ops_server.codes)  # several systems per hospital
    with closing(_ops_client(ops_server)) as client:
        page = client.get("/ops/")
        assert page.status_code == 200
        rows = _coverage_rows(page.text)
        assert f"{len(rows)} of {len(expected)}, worst first" in page.text
        assert {(r[0], r[1], r[2], r[3]) for r in rows} == {
            (code, system, f"{coded:,}", f"{unmapped:,}")
            for code, system, coded, unmapped in expected
        }
        shares = [float(r[4].rstrip("%")) for r in rows]
        assert shares == sorted(shares, reverse=True)
        one = client.get("/ops/", params={"hospital": ops_server.codes[0]})
        assert one.status_code == 200
        assert {r[0] for r in _coverage_rows(one.text)} == {ops_server.codes[0]}


def _audit_rows_after(settings: object, after: int) -> list[tuple[Any, ...]]:
    from warehouse.storage.connection import connect

    with connect(settings) as conn:  # type: ignore[arg-type]
        return conn.execute(
            "SELECT action, outcome, physician_licence, purpose, source_hospitals, reason "
            "FROM audit.access_log WHERE access_id > ? ORDER BY access_id",
            [after],
        ).fetchall()


def _last_audit_id(settings: object) -> int:
    from warehouse.storage.connection import connect

    with connect(settings) as conn:  # type: ignore[arg-type]
        return int(conn.execute("SELECT max(access_id) FROM audit.access_log").fetchone()[0])


def test_ops_logins_page_views_and_refusals_are_audited(
    ops_server: OpsPage, api_server: Server
) -> None:
    """Every ops request that reads the ledger (and every ops login) is an audit row with
    the ops actor, on the same keyed chain as the physicians' reads; an unknown username
    and the password are request input and appear nowhere."""
    from warehouse.audit.trail import signing_key, verify
    from warehouse.storage.connection import connect

    settings = api_server.settings
    quarantined_code, _ = ops_server.quarantined
    unknown_user = "nobody.here"
    before = _last_audit_id(settings)
    with httpx.Client(base_url=ops_server.url, timeout=60) as anonymous:
        for username in (OPS_USER, unknown_user):
            wrong = anonymous.post(
                "/ops/login", data={"username": username, "password": "wrong-password-2"}
            )
            assert wrong.status_code == 401
        assert anonymous.get("/ops/").status_code == 401  # nobody: counted, not a row
    with closing(_ops_client(ops_server)) as client:
        assert client.get("/ops/").status_code == 200
        assert client.get("/ops/", params={"hospital": quarantined_code}).status_code == 200
        # A 400 reads nothing and is not an audited refusal anywhere in the API
        # (errors.AUDITED_REFUSALS); a 422 of a live session is, with its actor.
        assert client.get("/ops/", params={"network": "NOPE9"}).status_code == 400
        assert client.get("/ops/", params={"days": "0"}).status_code == 422
    rows = _audit_rows_after(settings, before)
    actor = f"ops:{OPS_USER}"
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("ops_login", "refused:401:invalid_credentials", actor, "ops"),
        ("ops_login", "refused:401:invalid_credentials", None, "ops"),
        ("ops_login", "ok", actor, "ops"),
        ("ops_page", "ok", actor, "ops"),
        ("ops_page", "ok", actor, "ops"),
        ("operations_page", "refused:422:validation_error", actor, "ops"),
    ]
    assert rows[3][5] == "days=30" and rows[3][4] == ""
    assert rows[4][5] == f"hospital={quarantined_code} days=30"
    assert rows[4][4] == quarantined_code
    written = repr(rows)
    assert unknown_user not in written and "wrong-password" not in written
    assert "NOPE9" not in written
    with connect(settings) as conn:
        result = verify(conn, signing_key(settings), settings.audit_head_sink_path)
    assert result.ok, result.problems


def test_charts_follow_the_ledger_through_the_chart_cache(
    ops_server: OpsPage, api_server: Server
) -> None:
    """The drawn charts are kept per filter, window and ledger version: the same page twice
    shows the same charts, and a batch recorded in between (the ledger's version moves) is in
    the next page's heatmap, never a stale drawing."""
    from warehouse.clock import storage_now
    from warehouse.hospital_registry import load_registry
    from warehouse.pipeline import ops
    from warehouse.pipeline.daily_run import record_ledger
    from warehouse.storage.connection import connect

    code = ops_server.codes[0]
    params = {"hospital": code, "days": "3"}
    with closing(_ops_client(ops_server)) as client:
        before = client.get("/ops/", params=params)
        again = client.get("/ops/", params=params)
        assert before.status_code == again.status_code == 200
        assert _charts(again.text) == _charts(before.text)
        # The last day of the window turns failed: a batch and the day's ledger rewritten.
        settings = api_server.settings
        registry = load_registry(settings.registry_dir)
        with connect(settings) as conn:
            last = ops.ledger_window(conn, 1)
            assert last is not None
            day = last[1]
            version = ops.ledger_version(conn)
            failed = ops.BatchSummary(
                hospital_code=code,
                extract_date=day,
                status="failed",
                reason_code="unexpected_error",
                reason="RuntimeError (see the task log)",
                started_at=storage_now(),
                finished_at=storage_now(),
            )
            with conn.transaction():
                ops.record_batch(conn, failed, "chart-cache-test")
                record_ledger(conn, registry, day, "chart-cache-test", storage_now())
            assert ops.ledger_version(conn) != version
        after = client.get("/ops/", params=params)
        assert after.status_code == 200
        assert _charts(after.text)[0] != _charts(before.text)[0]


def test_the_chart_cache_keeps_the_newest_entries() -> None:
    from warehouse.api.ops_chart_cache import ChartCache, Charts

    cache = ChartCache(max_entries=2)
    drawn = [Charts(f"heatmap-{n}", f"trend-{n}", n) for n in range(3)]
    cache.put("a", drawn[0])
    cache.put("b", drawn[1])
    assert cache.get("a") == drawn[0]  # a is now the most recent
    cache.put("c", drawn[2])
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (drawn[0], None, drawn[2])


def test_page_in_chromium_under_csp(ops_server: OpsPage) -> None:
    from playwright.sync_api import expect, sync_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.on("pageerror", lambda error: console.append(str(error)))
            page.goto(f"{ops_server.url}/ops/login")
            page.screenshot(path=str(ARTIFACTS / "01-login.png"), full_page=True)
            page.fill("input[name=username]", OPS_USER)
            page.fill("input[name=password]", OPS_PASSWORD)
            page.click("button:has-text('Log in')")
            page.wait_for_url(f"{ops_server.url}/ops/")
            for chart in ("#heatmap", "#reject-trend"):
                expect(page.locator(chart)).to_be_visible()
                width = page.eval_on_selector(chart, "img => img.complete && img.naturalWidth")
                assert width and width > 100, chart  # the SVG decoded and drew
            expect(page.locator("#quarantine")).to_be_visible()
            expect(page.locator("#top-rules")).to_be_visible()
            expect(page.locator("#runs")).to_be_visible()
            expect(page.locator("#coverage")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "02-operations.png"), full_page=True)
            page.select_option("select[name=region]", str(ops_server.region))
            page.click("button:has-text('Show')")
            page.wait_for_url(f"**/ops/?region={ops_server.region}*")
            expect(page.locator("#heatmap")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "03-region.png"), full_page=True)
            assert console == [], console  # no CSP violation, no script error
        finally:
            browser.close()
