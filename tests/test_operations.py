"""Operations: the health check and the reverse-proxy headers (TRUSTED_PROXIES)."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest
from flask import Flask, request, url_for

from grants import create_app
from grants.config import ConfigError
from grants.extensions import db

FORWARDED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "grants.mmd.example.org",
}


def test_health_is_ok_without_a_login_and_says_nothing_secret(app, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "not configured"}
    assert response.headers["Cache-Control"] == "no-store"


def test_health_checks_redis_when_it_is_configured(app, client):
    app.config["REDIS_URL"] = "redis://cache.internal:6379/0"
    app.extensions["grants_jobs"]["redis"] = fakeredis.FakeRedis()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["redis"] == "ok"


def test_health_is_degraded_but_up_when_redis_does_not_answer(app, client):
    # A port nothing listens on: the ping fails fast, the page does not. Every web
    # machine shares the Redis: a 503 would take them all out of the load balancer.
    app.config["REDIS_URL"] = "redis://:secret-password@127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "degraded", "database": "ok", "redis": "unreachable"
    }
    assert b"secret-password" not in response.data and b"127.0.0.1" not in response.data


def test_health_fails_when_the_database_does_not_answer(app, client, monkeypatch):
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise OSError("connection refused by db.internal")

    monkeypatch.setattr(db.session, "execute", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "failing", "database": "unreachable", "redis": "not configured"
    }
    assert b"db.internal" not in response.data


def _probe(target: Flask) -> None:
    @target.get("/_probe")
    def probe() -> dict[str, str]:
        return {
            "addr": request.remote_addr or "",
            "scheme": request.scheme,
            "link": url_for("public.index", _external=True),
        }


def _app_with(app: Flask, **overrides: Any) -> Flask:
    keys = ("ENV_NAME", "TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "REDIS_URL",
            "MAIL_SERVER", "MAIL_FOLDER", "UPLOAD_FOLDER", "WTF_CSRF_ENABLED")
    return create_app({**{key: app.config[key] for key in keys}, **overrides})


def test_forwarded_headers_are_ignored_by_default(app):
    _probe(app)
    seen = app.test_client().get("/_probe", headers=FORWARDED, environ_base={
        "REMOTE_ADDR": "10.0.0.2"}).get_json()
    assert seen == {"addr": "10.0.0.2", "scheme": "http", "link": "http://localhost/"}


def test_trusted_proxies_give_the_client_address_and_the_public_url(app):
    behind = _app_with(app, TRUSTED_PROXIES=1)
    _probe(behind)
    try:
        seen = behind.test_client().get(
            "/_probe",
            # A client's own forged entry comes first; only the proxy's last hop counts.
            headers={
                **FORWARDED,
                "X-Forwarded-For": "198.51.100.1, 203.0.113.7",
                # Passed through by proxies from the client: never believed.
                "X-Forwarded-Port": "8443",
                "X-Forwarded-Prefix": "/elsewhere",
            },
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        ).get_json()
    finally:
        with behind.app_context():
            db.engine.dispose()
    assert seen == {
        "addr": "203.0.113.7",
        "scheme": "https",
        "link": "https://grants.mmd.example.org/",
    }


def test_behind_a_load_balancer_and_nginx_the_client_is_two_hops_away(app):
    behind = _app_with(app, TRUSTED_PROXIES=2)
    _probe(behind)
    try:
        seen = behind.test_client().get(
            "/_probe",
            # The balancer appended the client, nginx the balancer; nginx set proto and host.
            headers={**FORWARDED, "X-Forwarded-For": "198.51.100.1, 203.0.113.7, 10.0.0.9"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        ).get_json()
    finally:
        with behind.app_context():
            db.engine.dispose()
    assert seen == {
        "addr": "203.0.113.7",
        "scheme": "https",
        "link": "https://grants.mmd.example.org/",
    }


def test_a_negative_proxy_count_is_refused(app):
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        _app_with(app, TRUSTED_PROXIES=-1)
