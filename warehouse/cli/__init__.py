"""`healthlink`: one typer app (`main`), a sub-command module per wing."""
