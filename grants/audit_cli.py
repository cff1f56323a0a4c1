"""`flask grants audit ...`: seal the audit trail's hash chain and verify it."""

from __future__ import annotations

import click
from flask.cli import AppGroup

audit_cli = AppGroup("audit", help="The tamper-evident audit trail.")


@audit_cli.command("seal")
def seal_command() -> None:
    """Chain every unsealed audit event to the one before it (safe to run at any time)."""
    from .services.audit import seal

    click.echo(f"Sealed {seal()} audit events.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Recompute the chain; fails (exit status 1) naming the first event that does not match."""
    from .services.audit import verify

    result = verify()
    if not result.ok:
        raise click.ClickException(
            f"audit chain broken at event {result.broken_id}: {result.reason} "
            f"({result.checked} events checked before it)"
        )
    click.echo(
        f"Audit chain intact: {result.checked} sealed events verified"
        + (f", {result.unsealed} not yet sealed." if result.unsealed else ".")
    )
