"""`flask grants ...`: set-up, demo data, users, diagrams, workers, backup and restore."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from reports.cli import export_cli

from .audit_cli import audit_cli

grants_cli = AppGroup("grants", help="Grant lifecycle engine commands.")
grants_cli.add_command(export_cli)
grants_cli.add_command(audit_cli)

ROOT = Path(__file__).resolve().parent.parent


@grants_cli.command("init")
def init_command() -> None:
    """Create or upgrade the database schema and load the reference data (idempotent)."""
    from flask_migrate import upgrade

    from .services.reference_data import load_reference_data

    upgrade()
    counts = load_reference_data()
    click.echo(
        f"Database ready: {counts['countries']} countries, {counts['jvap_domains']} JVAP "
        f"domains, {counts['dialogues']} dialogues."
    )


@grants_cli.command("demo-data")
def demo_data_command() -> None:
    """Fill an empty database with a realistic call, organisations, users and applications."""
    from .demo import create_demo_data

    try:
        summary = create_demo_data()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Demo data created. Log in with any of these (password: {summary['password']}):")
    for email, name, role in summary["users"]:
        click.echo(f"  {email:38} {name:22} {role}")
    click.echo(f"Calls: {', '.join(summary['calls'])}")
    click.echo(f"Application states reached: {', '.join(summary['application_states'])}")


@grants_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role", "roles", multiple=True, type=click.Choice(["evaluator", "programme_manager", "admin"])
)
@click.option("--language", type=click.Choice(["en", "fr"]), default="en")
@click.password_option()
def create_user_command(
    email: str, name: str, roles: tuple[str, ...], language: str, password: str
) -> None:
    """Create a user (staff roles optional); the email counts as verified."""
    from .services.accounts import create_user
    from .services.errors import ValidationFailed

    try:
        user = create_user(email, name, password, roles=roles, language=language, verified=True)
    except ValidationFailed as exc:
        problems = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.fields.items())
        raise click.ClickException(f"{exc.message} ({problems})") from None
    click.echo(f"Created user {user.id}: {user.email} {', '.join(roles) or ''}".rstrip())


@grants_cli.command("diagrams")
@click.option("--check", is_flag=True, help="Fail if the committed diagrams are out of date.")
def diagrams_command(check: bool) -> None:
    """Write every workflow's diagram into docs/workflows/ and the README."""
    from workflows.diagrams import write_diagrams

    changed = write_diagrams(ROOT / "docs" / "workflows", ROOT / "README.md", check=check)
    if check and changed:
        raise click.ClickException(
            "out of date: " + ", ".join(changed) + " (run: flask grants diagrams)"
        )
    click.echo("Diagrams " + ("up to date." if not changed else "written: " + ", ".join(changed)))


@grants_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option(
    "--fork/--no-fork",
    default=True,
    help="Run each job in a child process (default) or in the worker itself (faster).",
)
def worker_command(burst: bool, fork: bool) -> None:
    """Run an rq worker for the delivery and sweep jobs (needs REDIS_URL)."""
    from flask import current_app

    from .jobs.worker import run_worker

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException(
            "REDIS_URL is not set: without it jobs run inside the web process"
        )
    run_worker(burst=burst, fork=fork)


@grants_cli.command("scheduler")
@click.option("--interval", type=int, default=60, show_default=True, help="Seconds between runs.")
@click.option("--once", is_flag=True, help="Enqueue the sweeps once and exit.")
def scheduler_command(interval: int, once: bool) -> None:
    """Enqueue the periodic sweeps on rq every INTERVAL seconds (needs REDIS_URL)."""
    from flask import current_app

    from .jobs.worker import run_scheduler

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException(
            "REDIS_URL is not set: without it the web process runs the sweeps itself"
        )
    run_scheduler(interval, once=once)


@grants_cli.command("sweep")
def sweep_command() -> None:
    """Run every periodic sweep once, now, in this process (idempotent)."""
    from .services.sweeps import run_all

    for name, count in run_all().items():
        click.echo(f"{name}: {'failed (see the log)' if count < 0 else count}")


@grants_cli.command("reset-two-factor")
@click.option("--email", required=True, help="The account whose two-factor login goes off.")
def reset_two_factor_command(email: str) -> None:
    """Turn a user's two-factor login off (lost phone and recovery codes); audited."""
    from .services import two_factor
    from .services.accounts import find_user
    from .services.actors import SystemActor
    from .services.errors import DomainError

    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no account with the address {email}")
    try:
        two_factor.reset(user, SystemActor("command line"))
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Two-factor login of {user.email} is off; set up again at the next login.")


@grants_cli.command("rebuild-dashboard")
def rebuild_dashboard_command() -> None:
    """Count the dashboard's figures again from the source tables (after bulk loads or SQL)."""
    from .extensions import db
    from .services.dashboard_facts import rebuild

    counted = rebuild(db.session)
    db.session.commit()
    click.echo(f"{counted} applications counted.")


@grants_cli.command("backup")
@click.argument("path", required=False, type=click.Path(dir_okay=True, path_type=Path))
def backup_command(path: Path | None) -> None:
    """Write the database and every stored file to one archive (PATH: a file or a folder).

    Without PATH the archive goes to instance/backups/grants-backup-<UTC time>.tar.gz.
    Safe while the application runs: the tables are read in one consistent snapshot.
    """
    from .services.backup import BackupError, backup

    try:
        summary = backup(path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Backup written: {summary.path} (schema {summary.revision}; {summary.tables} tables, "
        f"{summary.rows} rows; {summary.files} files, {summary.bytes} bytes)."
    )
    if summary.missing_files:
        click.echo(
            f"Warning: {len(summary.missing_files)} stored files the database refers to are "
            f"not in the upload folder: {', '.join(summary.missing_files[:5])}",
            err=True,
        )


@grants_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--force", is_flag=True, help="Replace everything in a database that is not empty."
)
def restore_command(path: Path, force: bool) -> None:
    """Restore an archive written by `flask grants backup`: all of it, or nothing.

    Stop the web processes, workers and scheduler first. The archive is checked whole
    before anything changes; its schema revision must be this code's.
    """
    from .services.backup import BackupError, restore

    try:
        summary = restore(path, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Restored the backup of {summary.created_at} (schema {summary.revision}): "
        f"{summary.tables} tables, {summary.rows} rows, {summary.files} files"
        + ("; the previous content was replaced." if summary.replaced else ".")
    )
    if summary.missing_files:
        click.echo(
            f"Warning: {len(summary.missing_files)} stored files the database refers to are "
            f"missing: {', '.join(summary.missing_files[:5])}",
            err=True,
        )
