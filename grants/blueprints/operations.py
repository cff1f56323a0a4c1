"""Operations: the health check for load balancers and monitoring, and the proxy headers.

``GET /healthz`` answers JSON without a login: whether the database answers and,
when REDIS_URL is set, whether Redis does. 503 when the database does not answer
(this process can serve nothing: a load balancer should send it no traffic);
200 with status "degraded" when only Redis does not (the pages still work, mail
waits in the outbox; every web machine shares that Redis, so failing them all
would turn a delay into an outage); 200 "ok" otherwise. It names no host, URL
or error text, so it tells an outsider nothing worth having.

Behind reverse proxies, TRUSTED_PROXIES (a count) makes the app believe X-Forwarded-*:
X-Forwarded-For to that many hops (each proxy appends the address it saw), and the
single X-Forwarded-Proto and -Host that the proxy next to the app sets (overwriting
whatever came in) to the public scheme and host. The client's address (used by the
log-in throttle and recorded on signatures) and the links written into mail are then
the real ones. Left at 0, those headers are ignored, as anyone can send them. -Port
and -Prefix are never believed: proxies commonly pass them through from the client,
and a client choosing the port or path of the links mailed to someone else (a
password reset) must not be possible.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text
from werkzeug.wrappers import Response

from ..config import ConfigError
from ..extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("operations", __name__)


def _database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure means "not reachable"; the details go to the log only
        log.warning("health check: the database does not answer", exc_info=True)
        return False
    finally:
        db.session.rollback()


def _redis_status() -> str:
    if not current_app.config.get("REDIS_URL"):
        return "not configured"
    from ..jobs import redis_connection

    try:
        redis_connection().ping()
        return "ok"
    except Exception:  # a down Redis makes the check fail, never the page
        log.warning("health check: Redis does not answer", exc_info=True)
        return "unreachable"


@bp.get("/healthz")
def healthz() -> tuple[Response, int, dict[str, str]]:
    database = "ok" if _database_ok() else "unreachable"
    redis = _redis_status()
    if database != "ok":
        status = "failing"
    elif redis == "unreachable":
        status = "degraded"
    else:
        status = "ok"
    body = {"status": status, "database": database, "redis": redis}
    return jsonify(body), 503 if status == "failing" else 200, {"Cache-Control": "no-store"}


def apply_proxy_fix(app: Flask) -> None:
    """Trust TRUSTED_PROXIES hops of X-Forwarded-For, and -Proto/-Host of the nearest."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops < 0:
        raise ConfigError("TRUSTED_PROXIES must be 0 or the number of proxies in front")
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        wrapped: Any = ProxyFix(
            app.wsgi_app, x_for=hops, x_proto=1, x_host=1, x_port=0, x_prefix=0
        )
        app.wsgi_app = wrapped  # type: ignore[method-assign]


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    apply_proxy_fix(app)
