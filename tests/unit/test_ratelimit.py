"""The token buckets behind the REST API's rate limit, on a clock the test moves: those of
one process (`TokenBuckets`) and those several share (`SharedBuckets`) alike."""

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from accord.api import ratelimit
from accord.api.ratelimit import Buckets, SharedBuckets, TokenBuckets

Make = Callable[..., Buckets]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shared() -> Iterator[Callable[..., SharedBuckets]]:
    """SharedBuckets, closed after the test."""
    made: list[SharedBuckets] = []

    def make(per_minute: int, burst: int, **options: Any) -> SharedBuckets:
        made.append(SharedBuckets(per_minute, burst, **options))
        return made[-1]

    yield make
    for buckets in made:
        buckets.close()


@pytest.fixture(params=["in-process", "shared"])
def make(request: pytest.FixtureRequest, shared: Callable[..., SharedBuckets]) -> Make:
    return TokenBuckets if request.param == "in-process" else shared


def test_a_burst_then_one_request_per_refill(make: Make, clock: Clock) -> None:
    buckets = make(per_minute=60, burst=2, clock=clock)
    first, second, third = (buckets.take("a") for _ in range(3))
    assert (first.allowed, first.remaining, first.reset) == (True, 1, 1)
    assert (second.allowed, second.remaining, second.reset) == (True, 0, 2)
    assert (third.allowed, third.remaining, third.retry_after) == (False, 0, 1)
    clock.now += 0.5
    assert buckets.take("a").retry_after == 1  # half a request is not one
    clock.now += 0.5
    assert buckets.take("a").allowed
    assert not buckets.take("a").allowed


def test_a_bucket_never_holds_more_than_the_burst(make: Make, clock: Clock) -> None:
    buckets = make(per_minute=60, burst=2, clock=clock)
    buckets.take("a")
    clock.now += 3600
    assert [buckets.take("a").allowed for _ in range(3)] == [True, True, False]


def test_retry_after_counts_whole_seconds_at_slow_rates(make: Make, clock: Clock) -> None:
    buckets = make(per_minute=1, burst=1, clock=clock)
    assert buckets.take("a").allowed
    clock.now += 10
    refused = buckets.take("a")
    assert (refused.allowed, refused.retry_after, refused.reset) == (False, 50, 50)


def test_keys_do_not_share(make: Make, clock: Clock) -> None:
    buckets = make(per_minute=60, burst=1, clock=clock)
    assert buckets.take("a").allowed
    assert buckets.take("b").allowed
    assert not buckets.take("a").allowed


def test_full_buckets_are_forgotten(clock: Clock) -> None:
    buckets = TokenBuckets(per_minute=60, burst=2, clock=clock)
    buckets.take("a")
    buckets.take("b")
    clock.now += 2  # both are full again: a new bucket is the same
    buckets.take("c")
    assert list(buckets.buckets) == ["c"]


def test_many_callers_cannot_fill_the_memory(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 3)
    buckets = TokenBuckets(per_minute=1, burst=5, clock=clock)
    for key in "abcdef":
        buckets.take(key)
    assert list(buckets.buckets) == ["d", "e", "f"]


def test_shared_buckets_count_the_takes_of_forked_processes(
    shared: Callable[..., SharedBuckets], clock: Clock
) -> None:
    buckets = shared(per_minute=60, burst=3, clock=clock)
    buckets.take("a")
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os._exit(0 if buckets.take("a").allowed else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [buckets.take("a").allowed for _ in range(2)] == [True, False]


def test_shared_buckets_give_an_idle_slot_to_a_new_key(
    shared: Callable[..., SharedBuckets], clock: Clock
) -> None:
    buckets = shared(per_minute=60, burst=1, slots=2, clock=clock)
    assert [buckets.take(key).allowed for key in ("a", "b", "c")] == [True, True, True]
    clock.now += 0.5  # "c" holds the slot it took, and keeps its empty bucket
    assert not buckets.take("c").allowed
