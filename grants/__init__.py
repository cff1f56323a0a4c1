"""The MMD grant lifecycle engine: the Flask application factory."""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from flask import Flask

from .config import load_config


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, commands, error pages."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("GRANTS_INSTANCE_PATH") or None,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="static",
    )
    app.config.update(load_config(app.instance_path, config))
    os.makedirs(app.instance_path, exist_ok=True)
    register_request_clock(app)
    register_extensions(app)
    register_blueprints(app)
    register_operations(app)
    register_commands(app)
    register_error_handlers(app)
    register_template_helpers(app)
    register_jobs(app)
    register_security_headers(app)
    check_workflows()
    logging.getLogger(__name__).debug("application created (%s)", app.config["ENV_NAME"])
    return app


def register_request_clock(app: Flask) -> None:
    """First of all hooks: note when each request arrived (deadlines count from then)."""
    from flask import g, has_request_context

    from . import clock

    def remember_arrival() -> None:
        g.request_arrived_at = clock.now()

    def arrival() -> datetime | None:
        # Only inside a request: its own `g` value, set when it began.
        return g.get("request_arrived_at") if has_request_context() else None

    app.before_request(remember_arrival)
    clock.set_arrival_source(arrival)


def register_extensions(app: Flask) -> None:
    from sqlalchemy.orm import selectinload

    from . import models  # every model registered before migrations look
    from .extensions import babel, csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "account.login"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str) -> models.User | None:
        # The user's roles and memberships are read on every page: load them with the user.
        return db.session.get(
            models.User,
            int(user_id),
            options=[
                selectinload(models.User.staff_roles),
                selectinload(models.User.memberships).joinedload(models.Membership.organisation),
            ],
        )

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _tune_sqlite(app)


def _tune_sqlite(app: Flask) -> None:
    """Foreign keys on, WAL and a busy timeout so web requests and jobs can share the file.

    Commits are synced to disk (synchronous=FULL), as PostgreSQL's are by default: in WAL
    mode, NORMAL may lose the last commits on a power cut, and an applicant holding a
    receipt must find the submission it acknowledges.
    """
    from sqlalchemy import event

    from .extensions import db

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if ":memory:" not in str(engine.url):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()


def _select_locale() -> str | None:
    from flask import request
    from flask_login import current_user

    if getattr(current_user, "is_authenticated", False):
        return current_user.language
    from flask import session

    if session.get("language") in ("en", "fr"):
        return session["language"]
    return request.accept_languages.best_match(["en", "fr"]) if request else None


def register_blueprints(app: Flask) -> None:
    from .blueprints import account, home, public

    app.register_blueprint(public.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(home.bp)
    from .blueprints import admin, notifications

    app.register_blueprint(notifications.bp)
    app.register_blueprint(admin.bp)
    from .blueprints import evaluation, manage

    app.register_blueprint(evaluation.bp)
    app.register_blueprint(manage.bp)
    from .blueprints import applicant

    app.register_blueprint(applicant.bp)
    from .blueprints import api, tokens
    from .extensions import csrf

    # The API reads only Bearer tokens, never the session cookie: nothing for CSRF to protect.
    csrf.exempt(api.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(tokens.bp)
    from .blueprints import dashboard

    app.register_blueprint(dashboard.bp)
    from .blueprints import grantee, grants_admin

    app.register_blueprint(grantee.bp)
    app.register_blueprint(grants_admin.bp)


def register_operations(app: Flask) -> None:
    """The health check, and the proxy headers trusted (TRUSTED_PROXIES)."""
    from .blueprints.operations import register

    register(app)


def register_commands(app: Flask) -> None:
    from .cli import grants_cli

    app.cli.add_command(grants_cli)


def register_error_handlers(app: Flask) -> None:
    from .blueprints.errors import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from .blueprints.helpers import register

    register(app)


def register_jobs(app: Flask) -> None:
    from .jobs import init_app

    init_app(app)


def register_security_headers(app: Flask) -> None:
    from .security_headers import init_app

    init_app(app)


def check_workflows() -> None:
    from .services.transitions import check_implementations

    check_implementations()
