"""The login throttle: the same limits counted in this process or, with REDIS_URL, in Redis
shared by every web process (fakeredis here; the real Redis when TEST_REDIS_URL is set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from grants.services import accounts
from grants.services.accounts import LOGIN_ATTEMPTS, LoginThrottle
from tests.factories import PASSWORD, UserFactory

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")


@pytest.fixture
def redis_server() -> Iterator[Any]:
    if TEST_REDIS_URL:
        from redis import Redis

        client = Redis.from_url(TEST_REDIS_URL)
    else:
        import fakeredis

        client = fakeredis.FakeRedis()
    yield client
    for key in client.scan_iter("test-*"):
        client.delete(key)


@pytest.fixture(params=["memory", "redis"])
def throttle(request, app, redis_server) -> LoginThrottle:  # type: ignore[no-untyped-def]
    """One throttle per backend, under a prefix of its own so runs never meet."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    if request.param == "redis":
        app.config["REDIS_URL"] = TEST_REDIS_URL or "redis://fake"
        return LoginThrottle(prefix, connect=lambda url: redis_server)
    return LoginThrottle(prefix)


def test_an_address_is_blocked_after_the_allowed_failures(throttle):
    for _ in range(LOGIN_ATTEMPTS - 1):
        throttle.failed("Ana@Example.org ", "192.0.2.1")
    assert not throttle.blocked("ana@example.org", "192.0.2.1")
    throttle.failed("ana@example.org", "192.0.2.2")
    # The address counts whatever the client, spelled in any case.
    assert throttle.blocked("ANA@example.org", "198.51.100.7")
    assert not throttle.blocked("bob@example.org", "198.51.100.7")


def test_a_client_gets_more_room_than_an_address(throttle):
    for n in range(LOGIN_ATTEMPTS * accounts.CLIENT_FACTOR - 1):
        throttle.failed(f"user{n}@example.org", "203.0.113.5")
    assert not throttle.blocked("new@example.org", "203.0.113.5")
    throttle.failed("last@example.org", "203.0.113.5")
    assert throttle.blocked("new@example.org", "203.0.113.5")
    assert not throttle.blocked("new@example.org", "203.0.113.6")


def test_success_clears_the_address_not_the_client(throttle):
    for _ in range(LOGIN_ATTEMPTS):
        throttle.failed("ana@example.org", "192.0.2.1")
    assert throttle.blocked("ana@example.org", None)
    throttle.succeeded("ana@example.org")
    assert not throttle.blocked("ana@example.org", None)
    assert throttle.counts("ana@example.org", "192.0.2.1") == [0, LOGIN_ATTEMPTS]


def test_failures_leave_the_window(throttle, monkeypatch):
    moment = [1_000_000.0]
    monkeypatch.setattr(accounts.time, "time", lambda: moment[0])
    for _ in range(LOGIN_ATTEMPTS):
        throttle.failed("ana@example.org", None)
    assert throttle.blocked("ana@example.org", None)
    moment[0] += accounts.LOGIN_WINDOW_SECONDS + 1
    assert not throttle.blocked("ana@example.org", None)
    assert throttle.counts("ana@example.org", None) == [0]


def test_redis_counters_are_shared_between_processes(app, redis_server):
    """Two throttles stand for two web processes: what one counts, the other sees."""
    app.config["REDIS_URL"] = TEST_REDIS_URL or "redis://fake"
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    first = LoginThrottle(prefix, connect=lambda url: redis_server)
    second = LoginThrottle(prefix, connect=lambda url: redis_server)
    for _ in range(LOGIN_ATTEMPTS):
        first.failed("ana@example.org", "192.0.2.1")
    assert second.blocked("ana@example.org", "192.0.2.9")
    # Stored with an expiry, so Redis forgets the keys by itself.
    key = second.keys("ana@example.org", None)[0]
    assert 0 < redis_server.ttl(key) <= accounts.LOGIN_WINDOW_SECONDS
    second.succeeded("ana@example.org")
    assert not first.blocked("ana@example.org", None)


def test_one_redis_client_per_url(app):
    made: list[str] = []

    def connect(url: str) -> object:
        import fakeredis

        made.append(url)
        return fakeredis.FakeRedis()

    app.config["REDIS_URL"] = "redis://one"
    throttle = LoginThrottle("test-pool", connect=connect)
    for _ in range(3):
        throttle.failed("ana@example.org", "192.0.2.1")
        throttle.blocked("ana@example.org", "192.0.2.1")
    assert made == ["redis://one"]


class _Down:
    """A Redis that cannot be reached."""

    def pipeline(self) -> _Down:
        return self

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RedisConnectionError("connection refused")

        return fail


def test_an_unreachable_redis_falls_back_to_counting_here(app, caplog):
    app.config["REDIS_URL"] = "redis://down"
    throttle = LoginThrottle("test-down", connect=lambda url: _Down())
    for _ in range(LOGIN_ATTEMPTS):
        throttle.failed("ana@example.org", None)
    assert throttle.blocked("ana@example.org", None)
    throttle.succeeded("ana@example.org")
    assert not throttle.blocked("ana@example.org", None)
    assert "Redis unreachable" in caplog.text


def test_the_login_form_uses_redis_when_configured(app, client, redis_server, monkeypatch):
    """The page's throttle reads REDIS_URL: failures land in Redis, not in the process."""
    app.config["REDIS_URL"] = TEST_REDIS_URL or "redis://fake"
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    shared = LoginThrottle(prefix, connect=lambda url: redis_server)
    from grants.blueprints import account

    monkeypatch.setattr(account, "login_throttle", shared)
    user = UserFactory()
    for _ in range(LOGIN_ATTEMPTS):
        client.post("/account/login", data={"email": user.email, "password": "wrong one"})
    assert shared._failures == {}  # nothing counted in this process
    assert redis_server.zcard(shared.keys(user.email, None)[0]) == LOGIN_ATTEMPTS
    blocked = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert blocked.status_code == 429
    # Another process, sharing Redis, refuses too.
    other = LoginThrottle(prefix, connect=lambda url: redis_server)
    assert other.blocked(user.email, None)
