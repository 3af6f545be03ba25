"""The operations page: the ledger's heatmap, reject-rate trend, quarantines, top reject
rules, last runs and code coverage, server-rendered (HTML and SVG), for ops accounts only.

The browser holds the ops session in an HttpOnly, SameSite=Strict cookie scoped to /ops
(a page load cannot carry a bearer header); a bearer token of an ops session works too.
Every route resolves the session with kind 'ops' (warehouse.api.ops_accounts): a physician's
or admin's token is a 401 here, and an ops token is a 401 on the patient routes. The page
holds codes and counts only, no personal data. Filters are query parameters, validated
(422 for a malformed value, 400 for an unknown region, network or hospital).

Every ops login, refused or not, and every page view is an audit row (warehouse.api.audited)
with the ops actor ("ops:<name>", purpose "ops"); a page view's row holds its filters (codes
that passed validation). A refusal of a live ops session on the page (400, 422) is audited
with that actor by warehouse.api.refusals, like a physician's on a patient route.
"""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Form, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from warehouse.api import ops_accounts, ops_chart_cache, refusals, sessions
from warehouse.api.audited import AuditActor, audited
from warehouse.api.context import ApiContext
from warehouse.api.deps import NO_NUL, UNAUTHORIZED, Context
from warehouse.api.routers.auth import client_address
from warehouse.hospital_registry import Registry
from warehouse.pipeline import ops
from warehouse.storage.connection import WarehouseConnection

router = APIRouter(prefix="/ops", tags=["ops"])
COOKIE = ops_accounts.SESSION_COOKIE
CSS = Path(__file__).resolve().parents[1] / "ops_static" / "ops.css"
MAX_DAYS = 92
# The code coverage table shows the worst pairs (hospital, code system) only; the page says
# how many there are (`healthlink ops report --json` lists them all).
COVERAGE_SHOWN = 50

# Empty is "all" (the filter form sends `region=` for its "All" option).
Region = Annotated[
    str | None, Query(pattern=r"^([1-9]|1[0-3])?$", description="Health region 1-13")
]
Network = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{0,20}$", description="Network code")]
HospitalCode = Annotated[
    str | None, Query(pattern=r"^([0-9]{5})?$", description="Hospital code (five digits)")
]
Days = Annotated[int, Query(ge=1, le=MAX_DAYS, description="Days back from the last ledger day")]


def _token(request: Request, cookie: str | None) -> str | None:
    return ops_accounts.session_token(request.headers.get("authorization", ""), cookie)


def ops_session(
    conn: WarehouseConnection, request: Request, cookie: str | None
) -> ops_accounts.OpsSession:
    token = _token(request, cookie)
    session = ops_accounts.resolve_ops(conn, token) if token else None
    if session is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not_authenticated")
    return session


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<link rel="icon" href="data:,">'  # no /favicon.ico request
        '<link rel="stylesheet" href="/ops/ops.css"></head><body>'
        f"<header><h1>Health Link operations</h1>{_logout_form(title)}</header>"
        f"<main>{body}</main></body></html>",
        status_code=status_code,
    )


def _logout_form(title: str) -> str:
    if title == "Login":
        return ""
    return '<form method="post" action="/ops/logout"><button>Log out</button></form>'


def _login_page(message: str | None = None, status_code: int = 200) -> HTMLResponse:
    error = f'<p class="error" id="error">{html.escape(message)}</p>' if message else ""
    return _page(
        "Login",
        f"<section><h2>Operations login</h2>{error}"
        '<form method="post" action="/ops/login">'
        '<label>Username <input name="username" autocomplete="username" required></label>'
        '<label>Password <input name="password" type="password" '
        'autocomplete="current-password" required></label>'
        "<button>Log in</button></form></section>",
        status_code,
    )


@router.get("/ops.css", include_in_schema=False)
def stylesheet() -> FileResponse:
    return FileResponse(CSS, media_type="text/css")


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form() -> HTMLResponse:
    return _login_page()


@router.post(
    "/login",
    status_code=status.HTTP_303_SEE_OTHER,
    response_model=None,
    response_class=RedirectResponse,
    responses={
        401: {"description": "invalid_credentials", "content": {"text/html": {}}},
        429: {"description": "locked", "content": {"text/html": {}}},
    },
)
def login(
    username: Annotated[str, Form(min_length=1, max_length=64, pattern=NO_NUL)],
    password: Annotated[str, Form(min_length=1, max_length=128, pattern=NO_NUL)],
    request: Request,
    context: Context,
) -> HTMLResponse | RedirectResponse:
    with context.connect() as conn:
        try:
            # No enclosing transaction: the throttle's slot commits before the password check.
            ops_accounts.authenticate_ops(
                conn, context.api, username, password, client_address(request)
            )
        except sessions.LoginRefused as refused:
            # An unknown name is request input (perhaps a mistyped password): not recorded.
            known = ops_accounts.ops_account_exists(conn, username)
            _audit_login(context, conn, ops_accounts.OpsActor(username) if known else None, refused)
            if refused.code == "locked":
                page = _login_page("Too many attempts: try again later.", 429)
                page.headers["Retry-After"] = str(refused.retry_after or 1)
                return page
            return _login_page("Wrong username or password.", 401)
        # The session and its audit row commit together.
        with audited(context, conn, ops_accounts.OpsActor(username)) as audit:
            token = ops_accounts.open_ops_session(conn, context.api, username)
            audit.record("ops_login", "ok")
    response = RedirectResponse("/ops/", status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        token,
        max_age=context.api.token_ttl_minutes * 60,
        path="/ops",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _audit_login(
    context: ApiContext,
    conn: WarehouseConnection,
    actor: AuditActor | None,
    refused: sessions.LoginRefused,
) -> None:
    """One audit row per refused ops login (the rate limit on /ops bounds how many)."""
    with audited(context, conn, actor) as audit:
        audit.record("ops_login", sessions.login_outcome(refused), purpose=ops_accounts.KIND)


@router.post(
    "/logout",
    status_code=status.HTTP_303_SEE_OTHER,
    response_model=None,
    response_class=RedirectResponse,
)
def logout(
    request: Request, context: Context, hl_ops: Annotated[str | None, Cookie()] = None
) -> RedirectResponse:
    with context.connect() as conn:
        token = _token(request, hl_ops)
        session = ops_accounts.resolve_ops(conn, token) if token else None
        if session is not None:
            ops_accounts.ops_logout(conn, session)
    response = RedirectResponse("/ops/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/ops")
    return response


def scope_codes(
    registry: Registry, region: int | None, network: str | None, hospital: str | None
) -> list[str] | None:
    """The hospitals the filters select (None: no filter, every hospital of the ledger)."""
    if network is not None and network not in registry.networks:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "unknown_network")
    if hospital is not None and hospital not in registry.hospitals:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "unknown_hospital")
    if region is None and network is None and hospital is None:
        return None
    return sorted(
        h.hospital_code
        for h in registry.hospitals.values()
        if (region is None or h.health_region == region)
        and (network is None or h.network == network)
        and (hospital is None or h.hospital_code == hospital)
    )


def page_data(
    conn: WarehouseConnection,
    first: date,
    last: date,
    codes: list[str] | None,
    *,
    charts: bool = True,
) -> dict[str, Any]:
    """Everything the page shows, from the ledger (warehouse.pipeline.ops); without the
    charts' rows when their drawing is cached (ops_chart_cache)."""
    tables = {
        "quarantine": ops.quarantine_list(conn, first, last, codes),
        "top_rules": ops.top_reject_rules(conn, first, last, codes),
        "runs": ops.recent_runs(conn, codes),
        "coverage": ops.code_coverage(conn, first, last, codes, top=COVERAGE_SHOWN),
    }
    if not charts:
        return tables
    return {
        "grid": ops.ledger_grid(conn, first, last, codes),
        "trend": ops.reject_rate_trend(conn, first, last, codes),
        **tables,
    }


def _cell(value: Any) -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, float):
        return f'<td class="n">{value:,.1f}</td>'
    if isinstance(value, int):
        return f'<td class="n">{value:,}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _table(rows: list[dict[str, Any]], columns: list[str], table_id: str) -> str:
    if not rows:
        return f'<p class="muted" id="{table_id}">None in this window.</p>'
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(r[c]) for c in columns) + "</tr>" for r in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _filters(
    registry: Registry, region: int | None, network: str | None, hospital: str | None, days: int
) -> str:
    def option(value: str, label: str, chosen: bool) -> str:
        mark = " selected" if chosen else ""
        return f'<option value="{html.escape(value)}"{mark}>{html.escape(label)}</option>'

    regions = "".join(option(str(r), f"Region {r}", r == region) for r in range(1, 14))
    networks = "".join(option(code, code, code == network) for code in sorted(registry.networks))
    return (
        '<form method="get" action="/ops/" id="filters">'
        f'<label>Health region <select name="region"><option value="">All</option>{regions}'
        "</select></label>"
        f'<label>Network <select name="network"><option value="">All</option>{networks}'
        "</select></label>"
        '<label>Hospital <input name="hospital" inputmode="numeric" maxlength="5" '
        f'value="{html.escape(hospital or "")}"></label>'
        f'<label>Days <input name="days" type="number" min="1" max="{MAX_DAYS}" '
        f'value="{days}"></label><button>Show</button></form>'
    )


@router.get(
    "/",
    tags=[refusals.LEDGER_TAG],
    response_class=HTMLResponse,
    responses={
        **UNAUTHORIZED,
        400: {"description": "unknown_network / unknown_hospital"},
        422: {"description": "a filter out of range or malformed"},
    },
)
def operations_page(
    request: Request,
    context: Context,
    region: Region = None,
    network: Network = None,
    hospital: HospitalCode = None,
    days: Days = 30,
    hl_ops: Annotated[str | None, Cookie()] = None,
) -> HTMLResponse:
    region_number = int(region) if region else None
    network = network or None
    hospital = hospital or None
    with context.connect() as conn, context.ops_reader(conn) as ledger:
        session = ops_session(conn, request, hl_ops)
        registry = context.registry
        with audited(context, conn, session) as audit:
            codes = scope_codes(registry, region_number, network, hospital)
            audit.record(
                "ops_page",
                "ok",
                source_hospitals=[hospital] if hospital else [],
                reason=_filter_note(region_number, network, hospital, days),
            )
            window = ops.ledger_window(ledger, days)
            if window is None:
                body = '<section><p class="muted" id="empty">The ledger is empty.</p></section>'
                filters = _filters(registry, region_number, network, hospital, days)
                return _page("Operations", f"<section>{filters}</section>{body}")
            first, last = window
            key = (None if codes is None else tuple(codes), first, last)
            key += ops.ledger_version(ledger)
            charts = context.ops_charts.get(key)
            data = page_data(ledger, first, last, codes, charts=charts is None)
    if charts is None:  # drawn outside the connection: it is CPU in this process only
        charts = ops_chart_cache.draw(data["grid"], data["trend"], first, last)
        context.ops_charts.put(key, charts)
    return _page(
        "Operations",
        _render(context, data, charts, first, last, region_number, network, hospital, days),
    )


def _filter_note(region: int | None, network: str | None, hospital: str | None, days: int) -> str:
    """The page's filters for its audit row (validated codes, never free text)."""
    chosen = {"region": region, "network": network, "hospital": hospital, "days": days}
    return " ".join(f"{name}={value}" for name, value in chosen.items() if value is not None)


def _render(
    context: ApiContext,
    data: dict[str, Any],
    charts: ops_chart_cache.Charts,
    first: date,
    last: date,
    region: int | None,
    network: str | None,
    hospital: str | None,
    days: int,
) -> str:
    heatmap, trend, hospitals = charts.heatmap, charts.trend, charts.hospitals
    return (
        f"<section>{_filters(context.registry, region, network, hospital, days)}"
        f'<p class="muted">{first.isoformat()} to {last.isoformat()}, {hospitals} hospitals'
        "</p></section>"
        "<section><h2>Status and lag per hospital and day</h2>"
        f'<img class="chart" id="heatmap" alt="Status and lag heatmap" src="{heatmap}">'
        "</section>"
        "<section><h2>Reject rate</h2>"
        f'<img class="chart" id="reject-trend" alt="Reject rate per day" src="{trend}">'
        "</section>"
        "<section><h2>Quarantined batches</h2>"
        + _table(
            data["quarantine"],
            [
                "hospital_code",
                "extract_date",
                "reason_code",
                "reason",
                "rows_read",
                "rows_rejected",
            ],
            "quarantine",
        )
        + "</section><section><h2>Top reject rules</h2>"
        + _table(data["top_rules"], ["entity", "rule", "rejects", "hospitals"], "top-rules")
        + "</section><section><h2>Last runs</h2>"
        + _table(
            data["runs"],
            [
                "run_id",
                "extract_date",
                "batches",
                "loaded",
                "quarantined",
                "failed",
                "duration_s",
                "batch_seconds",
            ],
            "runs",
        )
        + "</section>"
        + _coverage(*data["coverage"])
    )


def _coverage(rows: list[dict[str, Any]], total: int) -> str:
    """Code coverage per hospital and code system (marts.rpt_unmapped_codes), worst first."""
    shown = [{**row, "unmapped_share": f"{row['unmapped_share']:.1%}"} for row in rows]
    note = f'<p class="muted" id="coverage-count">{len(rows)} of {total}, worst first</p>'
    return (
        "<section><h2>Code coverage</h2>"
        + (note if rows else "")
        + _table(
            shown,
            ops.COVERAGE_COLUMNS,
            "coverage",
        )
        + "</section>"
    )
