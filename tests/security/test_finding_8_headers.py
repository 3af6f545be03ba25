"""Issue 9, finding 8: security headers on every response of the origin, and API docs from
the app's own files under a strict CSP, over real HTTP on DuckDB and PostgreSQL.

The reported gaps: no Content-Security-Policy, X-Content-Type-Options, frame-ancestors or
Referrer-Policy on the viewer; no `Cache-Control: no-store` on patient data; /docs loaded
Swagger UI from a public CDN without integrity, on the origin of patient data.

What is requested is enumerated at run time: every operation of the served OpenAPI document
(with and without credentials, plausible and malformed), every route and every static file
of the app itself (`create_app().routes`), and error answers (404, 405, 413, 422).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.routing import Mount, Route

from tests.support.api_server import Server, add_physician, bearer, login
from tests.support.operations import Samples, operations, sample

CHROMIUM = Path("/usr/bin/chromium")
STATIC = Path(__file__).resolve().parents[2] / "warehouse" / "api" / "static"
CSP_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def _header_problems(label: str, response: httpx.Response) -> list[str]:
    found = []
    policy = response.headers.get("Content-Security-Policy", "")
    directives = {
        part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()
    }
    for name, value in CSP_DIRECTIVES.items():
        if directives.get(name) != value:
            found.append(f"{label}: CSP {name} is {directives.get(name)!r}")
    if "unsafe-inline" in policy or "unsafe-eval" in policy:
        found.append(f"{label}: CSP allows inline script or eval")
    expected = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
    for name, value in expected.items():
        if response.headers.get(name) != value:
            found.append(f"{label}: {name} is {response.headers.get(name)!r}")
    return found


def _app_paths() -> list[str]:
    """Every GET-able non-API path of the app: its plain routes and its mounts' files."""
    from fastapi.routing import APIRoute

    from warehouse.api.main import create_app

    paths = []
    for route in create_app().routes:
        if isinstance(route, APIRoute) and (route.include_in_schema or "{" in route.path):
            continue  # from the served OpenAPI document
        if isinstance(route, Mount):
            directory = Path(str(getattr(route.app, "directory", "")))
            assert directory.is_dir(), f"mount {route.path} serves files from a directory"
            paths += [
                f"{route.path}/{file.relative_to(directory).as_posix()}"
                for file in sorted(directory.rglob("*"))
                if file.is_file()
            ]
            if getattr(route.app, "html", False):  # serves index.html for the directory
                paths.append(f"{route.path}/")
        elif isinstance(route, APIRoute | Route) and "{" not in route.path:
            paths.append(route.path)
    return paths


def test_finding_8_headers_on_every_response(api_server: Server) -> None:
    cast = api_server.cast
    add_physician(api_server.settings, "80801", [cast.one_time_hospitals[0]])
    samples = Samples(cast.multi_hospital_patient, cast.one_time_hospitals[0])
    problems: list[str] = []
    found, components = operations(api_server.url)
    with api_server.client() as client:
        token = login(client, "80801")
        for op in found:
            url = op.url({name: samples.path_value(name) for name in op.path_params})
            body = sample(op.body_schema, components, samples) if op.body_schema else None
            # logging out would end the session the other operations use
            variants = [{}] if op.path.endswith("/logout") else [{}, bearer(token)]
            for headers in variants:
                answer = client.request(op.method, url, json=body, headers=headers)
                problems += _header_problems(f"{op.label} ({answer.status_code})", answer)
            if op.body_schema is not None:
                junk = client.request(
                    op.method, url, content=b"{nope", headers={"Content-Type": "application/json"}
                )
                problems += _header_problems(f"{op.label} junk ({junk.status_code})", junk)
        app_paths = _app_paths()
        assert {"/docs", "/viewer/index.html", "/viewer/app.js"} <= set(app_paths)
        for path in app_paths:
            answer = client.get(path)
            assert answer.status_code < 400, (path, answer.status_code)
            problems += _header_problems(f"GET {path} ({answer.status_code})", answer)
        errors = {
            "404": client.get("/no/such/path"),
            "405": client.get("/patients/search"),
            "413": client.post(
                "/patients/search",
                content=b"x" * (70 * 1024),
                headers={"Content-Type": "application/json"},
            ),
            "422": client.post("/auth/login", json={"licence": ""}),
        }
    for status, answer in errors.items():
        assert str(answer.status_code) == status
        problems += _header_problems(f"error {status}", answer)
    assert not problems, "\n".join(problems[:40])


class _Markup(HTMLParser):
    """What a page would need 'unsafe-inline' or another origin for."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"inline handler {name} on <{tag}>")
            if name == "style":
                self.problems.append(f"inline style on <{tag}>")
            if name in ("src", "href") and value and urlsplit(value).netloc:
                self.problems.append(f"<{tag} {name}> from another origin")
            if name in ("src", "href") and value and value.startswith("javascript:"):
                self.problems.append(f"javascript: URL on <{tag}>")
        if tag == "style":
            self.problems.append("inline <style>")
        if tag == "script":
            self._in_script = True
            if not names.get("src"):
                self.problems.append("inline <script>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("inline script text")


def _markup_problems(html: str) -> list[str]:
    parser = _Markup()
    parser.feed(html)
    return parser.problems


def test_finding_8_viewer_and_docs_have_nothing_inline_or_foreign(api_server: Server) -> None:
    with api_server.client() as client:
        for path in ("/viewer/", "/docs"):
            page = client.get(path)
            assert page.status_code == 200
            assert _markup_problems(page.text) == [], path
    for script in STATIC.glob("*.js"):
        text = script.read_text(encoding="utf-8")
        assert not re.search(r"\beval\s*\(|new\s+Function\s*\(", text), script.name
        # markup built in script must not carry inline handlers or styles either
        for literal in re.findall(r"\"[^\"]*<[^\"]*\"|'[^']*<[^']*'|`[^`]*<[^`]*`", text):
            assert _markup_problems(literal.strip("\"'`")) == [], (script.name, literal)


@pytest.mark.usefixtures("chromium")
def test_finding_8_docs_run_in_a_browser_without_csp_violations(api_server: Server) -> None:
    """Swagger UI renders under the CSP, from this origin only."""
    from playwright.sync_api import sync_playwright

    console: list[str] = []
    foreign: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page()
            page.on("console", lambda message: console.append(message.text))
            page.on("pageerror", lambda error: console.append(str(error)))
            page.on(
                "request",
                lambda request: (
                    None
                    if request.url.startswith((api_server.url, "data:"))
                    else foreign.append(request.url)
                ),
            )
            page.goto(f"{api_server.url}/docs")
            page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            page.wait_for_selector(".opblock", timeout=30_000)
            title = page.inner_text(".swagger-ui .info .title")
        finally:
            browser.close()
    assert "Health Link" in title
    assert foreign == []
    violations = [m for m in console if "Content Security Policy" in m or "Refused to" in m]
    assert violations == []
