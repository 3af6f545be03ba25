"""`healthlink consent ...`: the consent service for operators and tests.

National IDs and birth dates are read from stdin or a JSON file, never from argv (argv is
visible to every user of the machine and lands in shell history). Patients are named by
their pseudonymous key afterwards. A refusal prints its reason code and message and exits 2.

These commands act for any patient: they are the operators' path (support staff, the
registration feed's import), not the citizen app's. Every event they record names the
operator in consent.event.recorded_by as `operator:<name>`: --operator, else
HEALTHLINK_OPERATOR, else the login name of the OS user running the command.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from warehouse.consent import PatientState, SenderChoice
    from warehouse.hospital_registry import Registry
    from warehouse.settings import Settings
    from warehouse.storage.connection import WarehouseConnection

T = TypeVar("T")

app = typer.Typer(help="Consent registry (the citizen app's actions)", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]
KeyArgument = Annotated[str, typer.Argument(help="The patient's pseudonymous key")]
NetworkOption = Annotated[list[str] | None, typer.Option("--network", help="A network code")]
HospitalOption = Annotated[list[str] | None, typer.Option("--hospital", help="A hospital code")]
AllFlag = Annotated[bool, typer.Option("--all", help="Every participating hospital")]
OperatorOption = Annotated[
    str | None,
    typer.Option(
        "--operator",
        envvar="HEALTHLINK_OPERATOR",
        help="Who runs this (recorded in the consent event log; default: the OS user)",
    ),
]
_OPERATOR_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


def _recorded_by(operator: str | None) -> str:
    """consent.event.recorded_by of an operator's action: `operator:<name>`."""
    if operator is None:
        try:
            operator = getpass.getuser()
        except (KeyError, OSError):  # no login name (e.g. a container's bare uid)
            operator = f"uid{os.getuid()}"
    if not _OPERATOR_NAME.fullmatch(operator):
        raise typer.BadParameter("letters, digits and . _ @ - only (1-64)", param_hint="--operator")
    return f"operator:{operator}"


def _emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False, indent=2) + "\n")


def _emit(data: Mapping[str, object], as_json: bool) -> None:
    if as_json:
        _emit_json(data)
    else:
        for name, value in data.items():
            typer.echo(f"{name}: {value}")


def _refuse(reason_code: str, message: str, as_json: bool) -> NoReturn:
    if as_json:
        _emit({"refused": reason_code, "message": message}, True)
    else:
        typer.echo(f"refused ({reason_code}): {message}", err=True)
    raise typer.Exit(2)


def _run(action: Callable[[WarehouseConnection, Registry, Settings], T], as_json: bool) -> T:
    """Run a consent action on the configured warehouse; refusals exit 2."""
    from warehouse.consent import ConsentRefused
    from warehouse.hospital_registry import RegistryError, load_registry
    from warehouse.settings import get_settings
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_schema

    settings = get_settings()
    try:
        registry = load_registry(settings.registry_dir)
    except RegistryError as error:
        _refuse("registry_error", str(error), as_json)
    with connect(settings) as conn:
        setup_schema(conn)
        try:
            return action(conn, registry, settings)
        except ConsentRefused as refusal:
            _refuse(refusal.reason_code, refusal.message, as_json)


def _state(state: PatientState) -> dict[str, object]:
    return {
        "patient_key": state.patient_key,
        "status": state.status,
        "sender_choice": state.choice.to_payload(),
        "sensitive_allowed": state.sensitive_allowed,
        "consenting_since": state.consenting_since.isoformat(),
        "list_set_on": state.list_set_on.isoformat(),
    }


def _choice(
    everyone: bool, networks: list[str] | None, hospitals: list[str] | None
) -> SenderChoice:
    from warehouse.consent import SenderChoice

    if everyone and (networks or hospitals):
        raise typer.BadParameter("--all excludes --network and --hospital")
    if everyone:
        return SenderChoice.everyone()
    return SenderChoice.of(set(networks or ()), set(hospitals or ()))


def _read_registration(source: Path | None) -> dict[str, Any]:
    text = source.read_text(encoding="utf-8") if source else sys.stdin.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        # Position only: the text holds a national ID.
        raise typer.BadParameter(f"registration is not JSON (line {error.lineno})") from None
    if not isinstance(data, dict):
        raise typer.BadParameter("registration must be a JSON object")
    return data


@app.command()
def register(
    file: Annotated[
        Path | None, typer.Option("--file", help="Registration JSON (default: stdin)")
    ] = None,
    operator: OperatorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a verified person. JSON: national_id, birth_date, verification {method,
    verified_at, national_id}, sender ("ALL" or {networks, hospitals}), sensitive (bool)."""
    from warehouse.consent import Registration, SenderChoice
    from warehouse.consent import register as do_register

    recorded_by = _recorded_by(operator)
    data = _read_registration(file)
    try:
        verification = data["verification"]
        sender = data.get("sender", "ALL")
        choice = (
            SenderChoice.everyone()
            if sender == "ALL"
            else SenderChoice.of(set(sender.get("networks", ())), set(sender.get("hospitals", ())))
        )
        registration = Registration(
            national_id=str(data["national_id"]),
            birth_date=date.fromisoformat(data["birth_date"]),
            verification_method=str(verification["method"]),
            verified_at=datetime.fromisoformat(verification["verified_at"]),
            verified_national_id=str(verification["national_id"]),
            choice=choice,
            sensitive_allowed=bool(data.get("sensitive", False)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        name = type(error).__name__
        raise typer.BadParameter(f"registration fields missing or malformed ({name})") from None

    def action(conn: WarehouseConnection, registry: Registry, settings: Settings) -> PatientState:
        key = settings.pseudonym_key.get_secret_value().encode("utf-8")
        return do_register(conn, registry, registration, key, recorded_by=recorded_by)

    _emit(_state(_run(action, as_json)), as_json)


@app.command()
def sources(
    patient_key: KeyArgument,
    everyone: AllFlag = False,
    network: NetworkOption = None,
    hospital: HospitalOption = None,
    operator: OperatorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Change the sender choice (at most once per day, Asia/Bangkok)."""
    from warehouse.consent import change_sources

    recorded_by = _recorded_by(operator)
    choice = _choice(everyone, network, hospital)
    state = _run(
        lambda conn, registry, _: change_sources(
            conn, registry, patient_key, choice, recorded_by=recorded_by
        ),
        as_json,
    )
    _emit(_state(state), as_json)


@app.command()
def withdraw(
    patient_key: KeyArgument, operator: OperatorOption = None, as_json: JsonFlag = False
) -> None:
    """Withdraw: every row is hidden at once and purged by the next sync."""
    from warehouse.consent import withdraw as do_withdraw

    recorded_by = _recorded_by(operator)
    state = _run(
        lambda conn, _r, _s: do_withdraw(conn, patient_key, recorded_by=recorded_by), as_json
    )
    _emit(_state(state), as_json)


@app.command()
def rejoin(
    patient_key: KeyArgument,
    everyone: AllFlag = False,
    network: NetworkOption = None,
    hospital: HospitalOption = None,
    sensitive: Annotated[bool, typer.Option("--sensitive", help="Share sensitive data")] = False,
    operator: OperatorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Join again (from the day after withdrawing); no choice given keeps the previous one."""
    from warehouse.consent import rejoin as do_rejoin

    recorded_by = _recorded_by(operator)
    choice = _choice(everyone, network, hospital) if (everyone or network or hospital) else None
    state = _run(
        lambda conn, registry, _: do_rejoin(
            conn,
            registry,
            patient_key,
            choice,
            sensitive_allowed=sensitive,
            recorded_by=recorded_by,
        ),
        as_json,
    )
    _emit(_state(state), as_json)


@app.command()
def sensitive(
    patient_key: KeyArgument,
    allow: Annotated[bool, typer.Option("--on/--off", help="Share sensitive data or not")],
    operator: OperatorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Set the sensitive-data choice (off by default; not limited per day)."""
    from warehouse.consent import set_sensitive

    recorded_by = _recorded_by(operator)
    state = _run(
        lambda conn, _r, _s: set_sensitive(conn, patient_key, allow, recorded_by=recorded_by),
        as_json,
    )
    _emit(_state(state), as_json)


@app.command()
def show(patient_key: KeyArgument, as_json: JsonFlag = False) -> None:
    """The patient's consent (from the event log), notifications and per-visit requests."""
    from warehouse.consent import ConsentRefused, current_state, notifications, requests_of

    def action(
        conn: WarehouseConnection, _registry: Registry, _settings: Settings
    ) -> dict[str, object]:
        state = current_state(conn, patient_key)
        if state is None:
            raise ConsentRefused("not_registered", "This person has not registered.")
        return {
            **_state(state),
            "notifications": notifications(conn, patient_key),
            "per_visit_requests": [
                {"request_id": r.request_id, "status": r.status, "sources": r.source_hospitals}
                for r in requests_of(conn, patient_key)
            ],
        }

    _emit(_run(action, as_json), as_json)


@app.command("who-could-see")
def who_could_see(
    day: Annotated[str, typer.Option("--date", help="Calendar day in Asia/Bangkok, YYYY-MM-DD")],
    patient_key: Annotated[
        str | None, typer.Option("--patient-key", help="One patient (default: all)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Which hospitals' data was visible that day, sensitive or not, and per-visit grants.

    Days up to today (Asia/Bangkok); a later day is refused (exit 2, `future_date`)."""
    from warehouse.clock import after_today, bangkok_today
    from warehouse.consent import who_could_see as one
    from warehouse.consent import who_could_see_all

    try:
        on = date.fromisoformat(day)
    except ValueError:
        raise typer.BadParameter(f"{day!r} is not a date (YYYY-MM-DD)") from None
    if after_today(on):
        _refuse(
            "future_date",
            f"{on} is after today ({bangkok_today()}, Asia/Bangkok): the history cannot say"
            " who will be able to see what.",
            as_json,
        )
    answers = _run(
        lambda conn, _r, _s: (
            [one(conn, patient_key, on)] if patient_key else who_could_see_all(conn, on)
        ),
        as_json,
    )
    if as_json:
        _emit_json(answers)
        return
    for answer in answers:
        typer.echo(f"patient {answer['patient_key']} on {answer['date']} (Asia/Bangkok)")
        for segment in answer["segments"]:
            hospitals = ", ".join(
                h["hospital_code"] + (" (per-visit)" if h["per_visit_required"] else "")
                for h in segment["hospitals"]
            )
            sensitive_text = "sensitive visible" if segment["sensitive_visible"] else "no sensitive"
            typer.echo(
                f"  {segment['from']} - {segment['until']}: {segment['status']}; "
                f"{hospitals or 'nothing visible'}; {sensitive_text}"
            )
        for grant in answer["per_visit_grants"]:
            typer.echo(
                f"  grant: physician {grant['physician_licence']} at "
                f"{grant['physician_hospital_code']} -> {grant['source_hospital_code']} "
                f"until {grant['expires_at']}"
            )


@app.command("import")
def import_file(
    csv_path: Annotated[Path, typer.Argument(help="registrations.csv from the citizen app feed")],
    operator: OperatorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Import the citizen app's verified registrations through the rules (bulk).

    The good lines are imported; every refused line is listed by its physical line number
    (the header is line 1, blank lines count) with the column and a reason code, never its
    content. Exit 0 when every line was imported, 1 when any line was refused, 2 when the
    file cannot be read at all (nothing imported)."""
    from warehouse.consent import bulk

    recorded_by = _recorded_by(operator)
    try:
        registrations = bulk.read_registrations(csv_path)
    except bulk.ImportFileError as error:
        _refuse("bad_file", str(error), as_json)
    result = _run(
        lambda conn, registry, settings: bulk.import_registrations(
            conn,
            registrations,
            settings.pseudonym_key.get_secret_value().encode("utf-8"),
            registry,
            recorded_by=recorded_by,
        ),
        as_json,
    )
    if as_json:
        _emit(
            {
                "read": result.read,
                "imported": result.imported,
                "withdrawn": result.withdrawn,
                "refused": [refusal.to_dict() for refusal in result.refused],
            },
            True,
        )
    else:
        typer.echo(
            f"read {result.read}: imported {result.imported} ({result.withdrawn} withdrawn),"
            f" refused {len(result.refused)}"
        )
        for refusal in result.refused[:20]:
            typer.echo(f"  {refusal}")
        if len(result.refused) > 20:
            typer.echo(f"  ... {len(result.refused) - 20} more (--json lists every line)")
    if result.refused:
        raise typer.Exit(1)


@app.command()
def key(as_json: JsonFlag = False) -> None:
    """The pseudonymous key of a national ID read from stdin (never from the command line)."""
    from expectations.national_id import is_valid_thai_national_id
    from warehouse.pseudonym import patient_key
    from warehouse.settings import get_settings

    national_id = sys.stdin.readline().strip()
    if not is_valid_thai_national_id(national_id):
        _refuse("invalid_national_id", "The national ID is not a valid Thai ID.", as_json)
    secret = get_settings().pseudonym_key.get_secret_value().encode("utf-8")
    _emit({"patient_key": patient_key(national_id, secret)}, as_json)


@app.command()
def purge(
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Compare every stored row with consent (a scan of the whole warehouse), not"
            " only the patients whose consent narrowed since the last purge",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete what consent no longer allows from every store (counts only): raw, marts,
    landing, published row tables (PostgreSQL) and the API's name-search index; then
    CHECKPOINT (DuckDB) or VACUUM the touched tables this role owns (PostgreSQL; the rest are
    listed as reclaim_pending, docs/security.md "Erasure").

    The daily sync runs the daily purge itself; run --full after a hospital moved to another
    network or left the registry, or after rows were restored from a backup."""
    from warehouse.consent import purge as do_purge

    result = _run(
        lambda conn, _r, settings: do_purge(conn, settings.landing_dir, full=full), as_json
    )
    _emit(
        {
            "full": result.full,
            "pairs": result.pairs,
            "patients": result.patients,
            "hospitals": result.hospitals,
            "rows_raw": result.rows_raw,
            "rows_marts": result.rows_marts,
            "rows_derived": result.rows_derived,
            "landing_files_rewritten": result.landing_files_rewritten,
            "reclaimed": list(result.reclaimed),
            "reclaim_pending": list(result.reclaim_pending),
        },
        as_json,
    )


@app.command("history-requests")
def history_requests(as_json: JsonFlag = False) -> None:
    """Pending full-history requests per hospital (count, oldest request day)."""
    from warehouse.consent.effects import pending_history_requests

    rows = _run(lambda conn, _r, _s: pending_history_requests(conn), as_json)
    if as_json:
        _emit_json(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['hospital_code']}: {row['pending']} pending since {row['oldest_request']}"
        )
