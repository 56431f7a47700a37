"""The send's pacing and fault handling, on a clock the test moves by hand (no timing)."""

from __future__ import annotations

import threading

import pytest

from actwatch.delivery.faults import Fault, classify
from actwatch.delivery.pool import Backoff, Breaker, RateLimiter, ServerGate
from actwatch.mail import MailError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_limit_hands_out_even_slots_and_makes_up_a_short_delay() -> None:
    clock = Clock()
    limiter = RateLimiter(100, slack=0.05, clock=clock)
    slots = [limiter.slot() for _ in range(5)]
    assert slots == pytest.approx([0.0, 0.01, 0.02, 0.03, 0.04])
    # Every worker was busy for 30 ms: the slots missed in the last 50 ms are used at once...
    clock.now = 0.08
    assert limiter.slot() == pytest.approx(0.05)
    # ...but a long stall is not made up in a burst: never more than `slack` worth.
    clock.now = 10.0
    burst = [limiter.slot() for _ in range(10)]
    assert burst == pytest.approx([9.95 + i * 0.01 for i in range(10)])


def test_the_gate_closes_for_everyone_probes_doubles_and_gives_up() -> None:
    clock = Clock()
    gate = ServerGate(Backoff(first=1.0, longest=4.0), max_wait=20.0, clock=clock)
    stop = threading.Event()
    assert gate.passage(stop)
    gate.down("refused")
    assert gate.down_since == 0.0 and gate.failures == 1
    gate.down("refused")  # another connection failing in the same outage: no extra wait
    assert gate.failures == 1
    clock.now = 1.0
    assert gate.passage(stop)  # this worker probes
    gate.down("refused again")  # the probe failed: the wait doubles
    assert gate.failures == 2
    clock.now = 3.0
    assert gate.passage(stop)
    gate.up()
    assert gate.down_since is None and gate.passage(stop)
    gate.down("down again")
    clock.now = 30.0
    assert not gate.passage(stop) and gate.gave_up
    assert gate.last_error == "down again"


def test_backoff_doubles_to_its_longest() -> None:
    assert [Backoff(1.0, 5.0).after(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_the_breaker_trips_on_a_run_of_bounces_or_an_unusual_share() -> None:
    streak = Breaker(window=300, streak=10)
    assert [streak.add(True) for _ in range(9)] == [None] * 9
    assert streak.add(True) is not None and streak.tripped
    share = Breaker(window=300, sample=60, share=0.05, streak=1000)
    tripped = [share.add(i % 10 == 0) for i in range(60)]  # 10 % bounce
    assert tripped[-1] is not None and all(t is None for t in tripped[:-1])
    normal = Breaker(window=100, sample=60, share=0.05, streak=10)
    assert all(normal.add(i % 50 == 0) is None for i in range(100))  # 2 % bounce
    assert normal.trusted
    # Past the window it says nothing more.
    assert all(normal.add(True) is None for _ in range(20))


def test_each_fault_gets_its_reaction() -> None:
    cases = [
        (MailError("refused", stage="connect"), Fault.SERVER),
        (MailError("421 busy", code=421, stage="connect"), Fault.SERVER),
        (MailError("login", code=535, permanent=True, stage="connect"), Fault.SETUP),
        (MailError("451 later", code=451, stage="sender"), Fault.SERVER),
        (MailError("421 closing", code=421, stage="recipient"), Fault.SERVER),
        (MailError("dropped", stage="recipient"), Fault.SERVER),
        (MailError("550 relaying", code=550, permanent=True, stage="sender"), Fault.REJECTED),
        (MailError("451 greylisted", code=451, stage="recipient"), Fault.DEFERRED),
        (MailError("550 no user", code=550, permanent=True, stage="recipient"), Fault.BOUNCE),
        (MailError("554 policy", code=554, permanent=True, stage="data"), Fault.REJECTED),
        (MailError("452 full", code=452, stage="data"), Fault.DEFERRED),
        (MailError("broke", stage="data"), Fault.UNKNOWN),
    ]
    assert [(str(e), classify(e)) for e, _ in cases] == [(str(e), f) for e, f in cases]
