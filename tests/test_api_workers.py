"""The booking API's workers (booking/http_api.py Workers): use cases run in the order their
requests came, each result or refusal reaches its own request, a request that went away
before its turn is not begun, and stopping ends what is left."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest

from booking.errors import BookingError, ErrorCode
from booking.http_api import Workers


async def test_use_cases_run_in_order_and_answer_their_own_request() -> None:
    workers = Workers(2)
    await workers.start()
    began: list[int] = []
    gate = asyncio.Event()

    async def use_case(n: int) -> int:
        began.append(n)
        await gate.wait()
        if n == 3:
            raise BookingError(ErrorCode.SEAT_TAKEN, seats=["1A"])
        return n * 10

    try:
        calls = [asyncio.create_task(workers.run(partial(use_case, n))) for n in range(5)]
        await asyncio.sleep(0.01)
        assert began == [0, 1]  # two workers, the rest wait their turn
        gate.set()
        results = await asyncio.gather(*calls, return_exceptions=True)
    finally:
        await workers.stop()
    assert began == [0, 1, 2, 3, 4]
    assert results[:3] == [0, 10, 20] and results[4] == 40
    assert isinstance(results[3], BookingError) and results[3].code is ErrorCode.SEAT_TAKEN


async def test_a_request_gone_before_its_turn_is_not_begun_and_stop_ends_the_rest() -> None:
    workers = Workers(1)
    await workers.start()
    began: list[str] = []
    hold = asyncio.Event()

    async def use_case(name: str) -> str:
        began.append(name)
        await hold.wait()
        return name

    first = asyncio.create_task(workers.run(lambda: use_case("first")))
    gone = asyncio.create_task(workers.run(lambda: use_case("gone")))
    left = asyncio.create_task(workers.run(lambda: use_case("left")))
    await asyncio.sleep(0.01)
    gone.cancel()
    hold.set()
    assert await first == "first"
    assert await left == "left"
    assert began == ["first", "left"]
    blocked = asyncio.Event()
    running = asyncio.create_task(workers.run(blocked.wait))
    waiting = asyncio.create_task(workers.run(blocked.wait))
    await asyncio.sleep(0.01)
    await workers.stop()
    for task in (running, waiting):
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_before_start_a_use_case_runs_in_its_requests_task() -> None:
    async def answer() -> int:
        return 7

    assert await Workers(1).run(answer) == 7
    with pytest.raises(ValueError):
        Workers(0)
