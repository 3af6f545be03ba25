"""`healthlink api ...`: the physician registry and admin accounts from the command line.

Wired into warehouse.cli by the lead (e.g. `app.add_typer(admin_cli.app, name="api")`).
Pincodes and passwords are prompted (hidden), never taken from the command line history.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

app = typer.Typer(help="Physician registry and hospital admin accounts", no_args_is_help=True)

Pincode = Annotated[
    str,
    typer.Option(
        prompt=True, hide_input=True, confirmation_prompt=True, envvar="HEALTHLINK_NEW_PINCODE"
    ),
]


def _run(action: str, change: object) -> None:
    from warehouse.api.physicians import RegistryError
    from warehouse.api.schema import ensure_api_schema
    from warehouse.db import connect

    with connect() as conn:
        ensure_api_schema(conn)
        try:
            with conn.transaction():
                change(conn)  # type: ignore[operator]
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


@app.command()
def suspend(licence: str) -> None:
    """Suspend a physician; their live sessions end at once."""
    from warehouse.api import physicians

    _run("suspend", lambda conn: physicians.set_status(conn, licence, "suspended"))


@app.command()
def reactivate(licence: str) -> None:
    from warehouse.api import physicians

    _run("reactivate", lambda conn: physicians.set_status(conn, licence, "active"))


@app.command("set-pincode")
def set_pincode(licence: str, pincode: Pincode) -> None:
    from warehouse.api import physicians

    _run("set-pincode", lambda conn: physicians.set_pincode(conn, licence, pincode))


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
