"""The throttle of failed authentications, on a clock the test moves: one process's
(`FailureThrottle`) and the one several share (`SharedFailureThrottle`) alike."""

import os
from collections.abc import Callable
from typing import Any

import pytest

from accord.services import throttle
from accord.services.throttle import COOL_DOWN, FailureThrottle, SharedFailureThrottle

Make = Callable[..., FailureThrottle]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shared(request: pytest.FixtureRequest) -> Callable[..., SharedFailureThrottle]:
    """SharedFailureThrottles, closed after the test."""

    def make(per_minute: int, **options: Any) -> SharedFailureThrottle:
        made = SharedFailureThrottle(per_minute, **options)
        request.addfinalizer(made.close)
        return made

    return make


@pytest.fixture(params=["in-process", "shared"])
def make(request: pytest.FixtureRequest, shared: Callable[..., SharedFailureThrottle]) -> Make:
    return FailureThrottle if request.param == "in-process" else shared


def test_the_limit_within_a_minute_locks_the_key_for_the_cool_down(
    make: Make, clock: Clock
) -> None:
    failures = make(3, clock=clock)
    for _ in range(2):
        failures.fail("a")
        clock.now += 20
    assert failures.locked("a") == 0
    failures.fail("a")  # the third within 40 s
    assert failures.locked("a") == 60
    clock.now += 59.5
    assert failures.locked("a") == 1  # whole seconds, rounded up
    clock.now += 0.5
    assert failures.locked("a") == 0


def test_failures_a_minute_apart_do_not_add_up(make: Make, clock: Clock) -> None:
    failures = make(3, clock=clock)
    for _ in range(10):
        failures.fail("a")
        failures.fail("a")
        clock.now += 60
    assert failures.locked("a") == 0


def test_trying_while_locked_does_not_prolong_the_lock(make: Make, clock: Clock) -> None:
    failures = make(1, clock=clock)
    failures.fail("a")
    clock.now += 30
    failures.fail("a")
    assert failures.locked("a") == 30
    clock.now += 30
    assert failures.locked("a") == 0
    failures.fail("a")  # counted afresh: one is the limit
    assert failures.locked("a") == COOL_DOWN


def test_keys_do_not_share(make: Make, clock: Clock) -> None:
    failures = make(1, clock=clock)
    failures.fail("a")
    assert (failures.locked("a"), failures.locked("b")) == (60, 0)


def test_credentials_are_vouched_for_until_they_fail() -> None:
    failures = FailureThrottle(3)
    failures.vouch(("digest", "address"), "digest")
    assert failures.is_vouched(("digest", "address"))
    assert failures.is_vouched("digest")
    failures.disown(("digest", "address"), "digest")
    assert not failures.is_vouched("digest")


def test_zero_counts_nothing(clock: Clock) -> None:
    failures = FailureThrottle(0, clock=clock)
    for _ in range(100):
        failures.fail("a")
    failures.vouch("token")
    assert (failures.locked("a"), failures.failures, failures.vouched) == (0, {}, {})


def test_memory_is_bounded(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttle, "MAX_KEYS", 10)
    failures = FailureThrottle(5, clock=clock)
    for n in range(100):
        failures.fail(f"address{n}")
        failures.vouch(f"token{n}")
    assert len(failures.failures) == 10
    assert len(failures.vouched) == 10
    assert failures.is_vouched("token99")
    failures.fail("x" * 1_000_000)  # a login of a megabyte is kept by its start
    assert max(len(key) for key in failures.failures) == throttle.MAX_KEY_CHARS


def test_keys_whose_minute_is_over_are_forgotten(clock: Clock) -> None:
    failures = FailureThrottle(5, clock=clock)
    failures.fail("old")
    clock.now += 60
    failures.fail("new")
    assert list(failures.failures) == ["new"]


def test_a_locked_key_is_kept_while_it_is_locked(clock: Clock) -> None:
    failures = FailureThrottle(1, clock=clock)
    failures.fail("locked")
    clock.now += 59
    failures.fail("new")
    assert failures.locked("locked") == 1


def test_the_shared_throttle_counts_the_failures_of_forked_processes(
    shared: Callable[..., SharedFailureThrottle], clock: Clock
) -> None:
    failures = shared(3, clock=clock)
    assert not failures.anyone_failed()
    failures.fail("a")
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        failures.fail("a")
        os._exit(0)
    os.waitpid(child, 0)
    assert failures.locked("a") == 0
    failures.fail("a")  # the third, in all
    assert failures.locked("a") == COOL_DOWN
    assert failures.anyone_failed()
