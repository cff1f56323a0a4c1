"""`export ...`: the open-data exports of all grants, to a file or to standard output."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from .exports import (
    NothingToExport,
    export_360giving,
    export_iati,
    export_jvap_csv,
    export_jvap_json,
    load_grants,
)

# An AppGroup, so its commands run inside the application context wherever
# the group is registered.
export_cli = AppGroup("export", help="Open-data exports of the grants (IATI, 360Giving, JVAP).")

OUTPUT = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="File to write; standard output when omitted.",
)


def _emit(document: bytes, output: Path | None) -> None:
    if output is None:
        click.echo(document, nl=False)  # bytes go to the binary stream as they are
        return
    output.write_bytes(document)
    click.echo(f"Wrote {output} ({len(document)} bytes).", err=True)


@export_cli.command("iati")
@OUTPUT
def iati_command(output: Path | None) -> None:
    """IATI 2.03 activity XML, one activity per grant."""
    try:
        document = export_iati(load_grants())
    except NothingToExport as exc:
        raise click.ClickException(f"Nothing exported: {exc}.") from None
    _emit(document, output)


@export_cli.command("360giving")
@OUTPUT
def giving360_command(output: Path | None) -> None:
    """360Giving 1.4 JSON package of the grants made."""
    try:
        document = export_360giving(load_grants())
    except NothingToExport as exc:
        raise click.ClickException(f"Nothing exported: {exc}.") from None
    _emit(document.encode("utf-8"), output)


@export_cli.command("jvap")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="Record format.",
)
@OUTPUT
def jvap_command(fmt: str, output: Path | None) -> None:
    """JVAP follow-up database records, one per grant."""
    grants = load_grants()
    document = export_jvap_csv(grants) if fmt == "csv" else export_jvap_json(grants)
    _emit(document.encode("utf-8"), output)
