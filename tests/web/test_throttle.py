"""The login throttle on its own: reservations are atomic, delays grow, the editors' own browsers
are never locked out, and memory stays bounded."""

from __future__ import annotations

import asyncio

import pytest

from actwatch.web.limits import client_address, trusted_networks
from actwatch.web.throttle import (
    ACCOUNT_FREE,
    WAITERS_PER_ACCOUNT,
    LoginThrottle,
    Throttled,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def _try(
    throttle: LoginThrottle,
    *,
    ok: bool,
    account: str | None = "1",
    address: str = "203.0.113.1",
    device: str | None = None,
    checks: list[int] | None = None,
) -> str:
    try:
        async with throttle.attempt(account=account, address=address, device=device) as attempt:
            if checks is not None:
                checks.append(1)
            await asyncio.sleep(0.01)  # a password check takes a while
            if ok:
                attempt.succeeded()
            else:
                attempt.failed()
    except Throttled:
        return "throttled"
    return "ok" if ok else "wrong"


def test_parallel_attempts_check_no_more_than_the_limit() -> None:
    throttle = LoginThrottle(clock=Clock())
    checks: list[int] = []

    async def burst() -> list[str]:
        return await asyncio.gather(*(_try(throttle, ok=False, checks=checks) for _ in range(20)))

    results = asyncio.run(burst())
    assert len(checks) <= ACCOUNT_FREE
    assert results.count("wrong") == len(checks)
    # The ones that found the account busy were refused at once, not queued without end.
    assert results.count("throttled") >= 20 - 1 - WAITERS_PER_ACCOUNT


def test_delays_grow_and_a_success_clears_them() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)

    def attempt(ok: bool, **keys: str | None) -> str:
        return asyncio.run(_try(throttle, ok=ok, **keys))  # type: ignore[arg-type]

    for _ in range(ACCOUNT_FREE):
        assert attempt(False) == "wrong"
    waits = []
    for _ in range(4):
        with pytest.raises(Throttled) as refused:
            asyncio.run(_throw(throttle))
        waits.append(refused.value.retry_after)
        clock.now += refused.value.retry_after
        assert attempt(False) == "wrong"
    assert waits == sorted(waits) and waits[-1] >= 4 * waits[0]
    clock.now += 3600
    assert attempt(True) == "ok"
    for _ in range(ACCOUNT_FREE):
        assert attempt(False) == "wrong"  # the slate was clean again


async def _throw(throttle: LoginThrottle) -> None:
    async with throttle.attempt(account="1", address="203.0.113.1") as attempt:
        attempt.failed()


def test_the_editors_own_browser_is_never_locked_out() -> None:
    throttle = LoginThrottle(clock=Clock())

    async def scenario() -> tuple[list[str], str, str]:
        # A guesser from many addresses drives the account into long delays...
        attacks = [await _try(throttle, ok=False, address=f"198.51.100.{i}") for i in range(30)]
        # ...a stranger's browser has to wait, the editor's own browser does not.
        stranger = await _try(throttle, ok=True, address="192.0.2.7")
        editor = await _try(throttle, ok=True, address="192.0.2.7", device="1:laptop")
        return attacks, stranger, editor

    attacks, stranger, editor = asyncio.run(scenario())
    assert attacks.count("wrong") == ACCOUNT_FREE
    assert stranger == "throttled" and editor == "ok"


def test_an_address_is_limited_across_accounts() -> None:
    throttle = LoginThrottle(clock=Clock())

    async def scenario() -> tuple[str, str]:
        for account in range(40):
            await _try(throttle, ok=False, account=str(account % 8), address="203.0.113.9")
        busy = await _try(throttle, ok=True, account="99", address="203.0.113.9")
        other = await _try(throttle, ok=True, account="99", address="203.0.113.10")
        return busy, other

    assert asyncio.run(scenario()) == ("throttled", "ok")


def test_memory_stays_bounded_under_a_burst_of_addresses() -> None:
    throttle = LoginThrottle(clock=Clock(), max_keys=500)

    async def scenario() -> None:
        await asyncio.gather(
            *(
                _try(throttle, ok=False, account=None, address=f"10.0.{i // 250}.{i % 250}")
                for i in range(5000)
            )
        )

    asyncio.run(scenario())
    assert len(throttle) <= 500 + 1
    assert len(throttle._accounts) == 1  # every unknown name shares one account key


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    proxies = trusted_networks(["127.0.0.1", "10.0.0.0/8"])

    def scope(peer: str, forwarded: str | None) -> dict[str, object]:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        return {"client": (peer, 5000), "headers": headers}

    # Straight from the internet: the header is whatever the client wrote; ignored.
    assert client_address(scope("203.0.113.5", "1.2.3.4"), proxies) == "203.0.113.5"
    # Through our proxy: the address it saw. A forged entry to its left is not believed.
    assert client_address(scope("127.0.0.1", "6.6.6.6, 203.0.113.5"), proxies) == "203.0.113.5"
    # Through two proxies we trust, the first untrusted hop from the right.
    assert client_address(scope("127.0.0.1", "203.0.113.5, 10.1.2.3"), proxies) == "203.0.113.5"
    assert client_address(scope("127.0.0.1", None), proxies) == "127.0.0.1"
    assert client_address(scope("127.0.0.1", "203.0.113.5"), ()) == "127.0.0.1"
