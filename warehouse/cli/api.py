"""`healthlink api ...`: the physician registry, admin and ops accounts from the command line.

Wired into warehouse.cli.main as `healthlink api`.
Pincodes and passwords are prompted (hidden), never taken from the command line history.
A refusal (unknown licence, weak pincode...) exits 1 with a message naming no personal data.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from warehouse.storage.connection import WarehouseConnection

app = typer.Typer(help="Physician registry and hospital admin accounts", no_args_is_help=True)

Pincode = Annotated[
    str,
    typer.Option(
        prompt=True, hide_input=True, confirmation_prompt=True, envvar="HEALTHLINK_NEW_PINCODE"
    ),
]


def _run(action: str, change: Callable[[WarehouseConnection], object]) -> None:
    from warehouse.api.physicians import RegistryError
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_schema

    with connect() as conn:
        setup_schema(conn)
        try:
            with conn.transaction():
                change(conn)
        except RegistryError as error:
            sys.stderr.write(f"refused: {error}\n")
            raise typer.Exit(1) from None
    sys.stdout.write(f"{action}: done\n")


@app.command("add-physician")
def add_physician(
    licence: Annotated[str, typer.Option(help="Medical Council licence (เลข ว.)")],
    name: Annotated[str, typer.Option(help="Full name")],
    hospital: Annotated[list[str], typer.Option(help="Hospital code; repeat for several")],
    pincode: Pincode,
) -> None:
    from warehouse.api import physicians

    _run(
        "add-physician",
        lambda conn: physicians.add_physician(conn, licence, name, pincode, hospital),
    )


@app.command("link-hospital")
def link_hospital(licence: str, hospital: str) -> None:
    from warehouse.api import physicians

    _run("link-hospital", lambda conn: physicians.link_hospital(conn, licence, hospital))


Hospital = Annotated[
    str | None,
    typer.Option(help="Only this hospital's membership (default: the national status)"),
]


@app.command()
def suspend(licence: str, hospital: Hospital = None) -> None:
    """Suspend a physician (nationally, or at one hospital); their live sessions there end
    at once."""
    from warehouse.api import physicians

    if hospital is None:
        _run("suspend", lambda conn: physicians.set_status(conn, licence, "suspended"))
    else:
        _run(
            "suspend",
            lambda conn: physicians.set_membership_status(conn, licence, hospital, "suspended"),
        )


@app.command()
def reactivate(licence: str, hospital: Hospital = None) -> None:
    from warehouse.api import physicians

    if hospital is None:
        _run("reactivate", lambda conn: physicians.set_status(conn, licence, "active"))
    else:
        _run(
            "reactivate",
            lambda conn: physicians.set_membership_status(conn, licence, hospital, "active"),
        )


@app.command("set-pincode")
def set_pincode(licence: str, pincode: Pincode) -> None:
    """A new pincode (exactly six digits, not a run or a repeat)."""
    from warehouse.api import physicians

    _run("set-pincode", lambda conn: physicians.set_pincode(conn, licence, pincode))


def _unlock(
    command: str,
    kind: str,
    subject: str,
    exists: Callable[[WarehouseConnection, str], bool],
    missing: str,
) -> None:
    """Lift the login locks on one account of `kind`, from every address (it must exist)."""
    from warehouse.api import physicians, throttle

    def change(conn: WarehouseConnection) -> None:
        if not exists(conn, subject):
            raise physicians.RegistryError(missing)
        throttle.unlock_subject(conn, kind, subject)

    _run(command, change)


@app.command()
def unlock(licence: str) -> None:
    """Lift the login locks on a licence, from every address."""
    from warehouse.api import physicians

    _unlock("unlock", "physician", licence, physicians.is_registered, "no such physician")


@app.command("unlock-admin")
def unlock_admin(username: str) -> None:
    """Lift the login locks on a hospital admin account, from every address."""
    from warehouse.api import physicians

    _unlock("unlock-admin", "admin", username, physicians.admin_exists, "no such admin account")


@app.command("unlock-address")
def unlock_address(address: str) -> None:
    """Lift the lock on a client address (all its failed logins, across licences)."""
    from warehouse.api import throttle

    _run("unlock-address", lambda conn: throttle.unlock_address(conn, address))


@app.command("add-admin")
def add_admin(
    username: str,
    hospital: Annotated[str, typer.Option(help="The hospital this admin manages")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="HEALTHLINK_NEW_ADMIN_PASSWORD",
        ),
    ],
) -> None:
    from warehouse.api import physicians

    _run("add-admin", lambda conn: physicians.add_admin(conn, username, hospital, password))


@app.command("add-ops")
def add_ops(
    username: str,
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="HEALTHLINK_NEW_OPS_PASSWORD",
        ),
    ],
) -> None:
    """An operations account: the operations page (/ops/) only, never patient data."""
    from warehouse.api import ops_accounts

    _run("add-ops", lambda conn: ops_accounts.add_ops_account(conn, username, password))


@app.command("unlock-ops")
def unlock_ops(username: str) -> None:
    """Lift the login locks on an operations account, from every address."""
    from warehouse.api import ops_accounts

    _unlock("unlock-ops", "ops", username, ops_accounts.ops_account_exists, "no such ops account")
