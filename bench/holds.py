"""Holds under load: throughput, latency, one hot trip filling up, and a bare seat claim.

    KASSA_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/holds.py [--seconds 15] [--clients 32] [--processes 1]

The figures are for PostgreSQL; on SQLite it runs too (without the bare asyncpg claim).
The database named in the URL is only used to create a fresh one beside it (a temporary
file for SQLite), which is migrated, filled with a network and dropped at the end.

(a) ``--clients`` concurrent clients, each on its own pooled connection, place holds
    (BookingService.hold, 1-2 passengers, random segment, seats chosen by the service)
    on random trips for ``--seconds``: holds/s, p50/p99 latency. ``--processes 2``
    splits the clients over two processes (same total), for when one Python process is
    the bottleneck; the figure is still end-to-end holds/s of the service.
(b) every client on ONE trip. Each client holds, then cancels what it got, so the trip
    stays at a steady fill while the lock queue stays full: once with the trip empty,
    once with 90% of its seats sold beforehand (whole route), the two phases taking turns
    so that a passing load on the machine hits both alike. p99 of the holds in both
    (refusals included), and the plans of the taken-seats query on the 90% trip (custom
    and generic plan) as the unit of work sends it.
(c) a bare seat claim through raw asyncpg at the same concurrency: one autocommit
    ``INSERT ... ON CONFLICT DO NOTHING`` into a table with a unique constraint.

Every client counts its own successes, refusals and latencies; a SQL query counts
double allocations (the same seat live on overlapping segments) at the end.
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, event, func, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_database, percentile
from booking.errors import BookingError
from booking.model import RouteStop, SeatLayout, Station
from booking.ports import Segment
from booking.service import BookingService
from booking.timetable import Timetable, TimetableRoute, TimetableTrip
from storage import tables as t
from storage.database import create_engine, is_sqlite
from storage.timetable import store_timetable
from storage.uow import SqlUnitOfWorkFactory

STOPS = ["A", "B", "C", "D", "E", "F"]
# A 49-seat coach: 13 rows of 2+2, no seats by the middle door (7C, 7D) nor at 13D.
LAYOUT = SeatLayout(0, "coach49", rows=13, columns="AB_CD", missing=frozenset({"7C", "7D", "13D"}))
CAPACITY = LAYOUT.capacity
HOT_PREFILL = round(CAPACITY * 0.9)  # 44 of 49 seats sold before the "90%" phase
NAMES = ["Ann Example", "Bob Example"]


def log(*parts: Any) -> None:
    print(*parts, flush=True)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# ---- the database ------------------------------------------------------------------


@dataclass(frozen=True)
class Network:
    trips: list[int]  # for part (a)
    hot_empty: int
    hot_full: int


async def build_network(engine: AsyncEngine, trips: int) -> Network:
    """Stations A-F an hour apart, one route calling at all, trips from tomorrow on."""
    first = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=6, minute=0, second=0, microsecond=0
    )
    keys = [f"bench:{n}" for n in range(trips)] + ["bench:hot-empty", "bench:hot-full"]
    timetable = Timetable(
        stations=[Station(code, {"en": f"Station {code}"}, "Europe/Berlin") for code in STOPS],
        layouts=[LAYOUT],
        routes=[
            TimetableRoute(
                code="A-F",
                name="A - F",
                agency="Bench",
                currency="EUR",
                stops=tuple(
                    RouteStop(seq, code, seq * 60, seq * 60 + (5 if 0 < seq < 5 else 0),
                              seq * 1000)
                    for seq, code in enumerate(STOPS)
                ),
            )
        ],
        trips=[
            TimetableTrip(
                source_key=key,
                route_code="A-F",
                service_date=(first + timedelta(minutes=10 * n)).date(),
                departure_at=first + timedelta(minutes=10 * n),
                layout_name=LAYOUT.name,
            )
            for n, key in enumerate(keys)
        ],
    )
    await store_timetable(engine, timetable)
    async with engine.connect() as conn:
        rows = await conn.execute(select(t.trips.c.source_key, t.trips.c.id))
        ids = {r.source_key: r.id for r in rows}
    return Network(
        trips=[ids[k] for k in keys[:trips]],
        hot_empty=ids["bench:hot-empty"],
        hot_full=ids["bench:hot-full"],
    )


async def count_oversold(engine: AsyncEngine) -> int:
    """Pairs of live allocations holding one seat of one trip on overlapping segments."""
    a = t.allocations.alias("a")
    b = t.allocations.alias("b")
    now = datetime.now(UTC)

    def live(x: Any) -> Any:
        return and_(x.c.live, or_(x.c.held_until.is_(None), x.c.held_until > now))

    query = select(func.count()).select_from(a).join(
        b,
        and_(
            a.c.trip_id == b.c.trip_id,
            a.c.seat == b.c.seat,
            a.c.id < b.c.id,
            a.c.from_seq < b.c.to_seq,
            b.c.from_seq < a.c.to_seq,
        ),
    ).where(live(a), live(b))
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


# ---- clients -----------------------------------------------------------------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    held: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def merge(self, other: Tally) -> None:
        self.latencies += other.latencies
        self.held += other.held
        self.refused.update(other.refused)
        self.seconds = max(self.seconds, other.seconds)


def random_segment(rng: random.Random) -> tuple[str, str]:
    start = rng.randrange(len(STOPS) - 1)
    end = rng.randrange(start + 1, len(STOPS))
    return STOPS[start], STOPS[end]


async def run_clients(
    clients: int,
    seconds: float,
    work: Callable[[int, random.Random, Tally], Awaitable[None]],
    seed: int,
) -> Tally:
    """``clients`` tasks calling ``work`` until ``seconds`` have passed."""
    tallies = [Tally() for _ in range(clients)]
    start = time.perf_counter()
    deadline = start + seconds

    async def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        while time.perf_counter() < deadline:
            await work(n, rng, tallies[n])

    await asyncio.gather(*(client(n) for n in range(clients)))
    total = Tally(seconds=time.perf_counter() - start)
    for tally in tallies:
        total.merge(tally)
    return total


def random_holds(service: BookingService, trips: list[int], base: int) -> Any:
    async def work(n: int, rng: random.Random, tally: Tally) -> None:
        origin, destination = random_segment(rng)
        names = NAMES[: rng.choice((1, 2))]
        began = time.perf_counter()
        try:
            await service.hold(base + n, rng.choice(trips), origin, destination, names)
            tally.held += 1
        except BookingError as error:
            tally.refused[error.code.value] += 1
        tally.latencies.append(time.perf_counter() - began)

    return work


async def holds_in_process(
    url: str, trips: list[int], clients: int, seconds: float, warmup: float, seed: int,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> Tally:
    engine = create_engine(url, pool_size=max(clients, 32))
    try:
        service = BookingService(SqlUnitOfWorkFactory(engine))
        work = random_holds(service, trips, base=seed * 100_000)
        await run_clients(clients, warmup, work, seed=seed + 7)  # caches, prepared statements
        if ready is not None:
            await ready()
        return await run_clients(clients, seconds, work, seed=seed)
    finally:
        await engine.dispose()


def _holds_process(
    url: str, trips: list[int], clients: int, seconds: float, warmup: float, seed: int,
    barrier: Any, results: Any,
) -> None:
    async def ready() -> None:
        await asyncio.to_thread(barrier.wait)

    tally = asyncio.run(holds_in_process(url, trips, clients, seconds, warmup, seed, ready))
    results.put((tally.latencies, tally.held, dict(tally.refused), tally.seconds))


async def holds_in_processes(
    url: str, trips: list[int], clients: int, seconds: float, warmup: float, processes: int
) -> Tally:
    """The clients split over ``processes`` processes that start measuring together."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    shares = [clients // processes + (1 if p < clients % processes else 0)
              for p in range(processes)]
    workers = [
        context.Process(
            target=_holds_process,
            args=(url, trips, share, seconds, warmup, p + 1, barrier, results),
        )
        for p, share in enumerate(shares)
    ]
    for worker in workers:
        worker.start()
    total = Tally()
    for _ in workers:
        latencies, held, refused, elapsed = await asyncio.to_thread(results.get)
        total.merge(Tally(latencies, held, Counter(refused), elapsed))
    for worker in workers:
        await asyncio.to_thread(worker.join)
        if worker.exitcode != 0:
            raise RuntimeError(f"bench worker exited with {worker.exitcode}")
    return total


# ---- (b) one hot trip --------------------------------------------------------------


def hold_and_release(service: BookingService, trip: int) -> Any:
    """Hold 1-2 seats on a random segment, then cancel them: the fill stays where it is."""

    async def work(n: int, rng: random.Random, tally: Tally) -> None:
        origin, destination = random_segment(rng)
        names = NAMES[: rng.choice((1, 2))]
        customer = 900_000 + n
        began = time.perf_counter()
        try:
            order = await service.hold(customer, trip, origin, destination, names)
        except BookingError as error:
            tally.refused[error.code.value] += 1
            tally.latencies.append(time.perf_counter() - began)
            return
        tally.latencies.append(time.perf_counter() - began)
        tally.held += 1
        await service.cancel(order.id, customer)

    return work


async def hot_trip(
    engine: AsyncEngine, network: Network, clients: int, seconds: float, slices: int = 4
) -> tuple[Tally, Tally]:
    """All clients on one trip, once empty, once 90% sold; the two phases alternate in
    ``slices`` turns, so that a passing load on the machine hits both alike."""
    service = BookingService(SqlUnitOfWorkFactory(engine))
    prefill = HOT_PREFILL
    while prefill > 0:  # whole route, so these seats are gone on every segment
        group = min(prefill, 2)
        await service.hold(1, network.hot_full, STOPS[0], STOPS[-1], NAMES[:group])
        prefill -= group
    empty_work = hold_and_release(service, network.hot_empty)
    full_work = hold_and_release(service, network.hot_full)
    await run_clients(clients, 1.0, empty_work, seed=11)
    await run_clients(clients, 1.0, full_work, seed=12)
    empty, full = Tally(), Tally()
    for turn in range(slices):
        for tally, work in ((empty, empty_work), (full, full_work)):
            part = await run_clients(clients, seconds / slices, work, seed=20 + turn)
            elapsed = tally.seconds + part.seconds  # turns run one after the other
            tally.merge(part)
            tally.seconds = elapsed
    return empty, full


async def live_fill(engine: AsyncEngine, trip: int) -> float:
    async with engine.connect() as conn:
        sold = (
            await conn.execute(
                select(func.count()).where(t.allocations.c.trip_id == trip, t.allocations.c.live)
            )
        ).scalar_one()
    return int(sold) / CAPACITY


async def explain_taken_seats(engine: AsyncEngine, trip: int) -> tuple[list[str], list[str]]:
    """Plans of the query the hold path really sends for the taken seats.

    The statement is captured on its way out of a unit of work's inventory, whether it
    goes through SQLAlchemy or straight to asyncpg, then explained with its values.
    """
    captured: list[tuple[str, Any]] = []

    def through_sqlalchemy(conn: Any, cursor: Any, statement: str, parameters: Any,
                           *_: Any) -> None:
        captured.append((statement, parameters))

    def through_asyncpg(record: Any) -> None:
        captured.append((record.query, record.args))

    event.listen(engine.sync_engine, "before_cursor_execute", through_sqlalchemy)
    try:
        async with SqlUnitOfWorkFactory(engine)() as uow:
            driver = (await uow.connection.get_raw_connection()).driver_connection
            logs = hasattr(driver, "add_query_logger")  # asyncpg
            if logs:
                driver.add_query_logger(through_asyncpg)
            await uow.inventory.taken_seats(Segment(trip, 1, 3), datetime.now(UTC))
            await asyncio.sleep(0)  # asyncpg calls its loggers soon after the query
            if logs:
                driver.remove_query_logger(through_asyncpg)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", through_sqlalchemy)
    statement, parameters = next(
        (q, p) for q, p in reversed(captured) if "allocations" in q and "seat" in q
    )
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            rows = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            return [str(r[-1]) for r in rows], []
        custom = await conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + statement, parameters
        )
        custom_plan = [r[0] for r in custom]
        # What a prepared statement ends up with after a few runs: the generic plan.
        await conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        await conn.exec_driver_sql("PREPARE bench_taken AS " + statement)
        literals = ", ".join(sql_literal(p) for p in parameters)
        generic = await conn.exec_driver_sql(
            f"EXPLAIN (COSTS OFF) EXECUTE bench_taken({literals})"
        )
        generic_plan = [r[0] for r in generic]
        await conn.exec_driver_sql("DEALLOCATE bench_taken")
        await conn.exec_driver_sql("RESET plan_cache_mode")
        await conn.rollback()
    return custom_plan, generic_plan


def sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::timestamptz"
    return "'" + str(value).replace("'", "''") + "'"


# ---- (c) the bare claim ------------------------------------------------------------


async def bare_claims(url: str, trips: list[int], clients: int, seconds: float) -> Tally:
    """One autocommit INSERT ... ON CONFLICT DO NOTHING per claim, raw asyncpg."""
    import asyncpg  # PostgreSQL only

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    setup = await asyncpg.connect(dsn)
    try:
        await setup.execute(
            "CREATE TABLE seat_claims (trip_id integer NOT NULL, seat text NOT NULL,"
            " from_seq integer NOT NULL, to_seq integer NOT NULL, customer_id bigint NOT NULL,"
            " UNIQUE (trip_id, seat, from_seq))"
        )
    finally:
        await setup.close()
    pool = await asyncpg.create_pool(dsn, min_size=clients, max_size=clients)
    labels = LAYOUT.labels
    claim = (
        "INSERT INTO seat_claims (trip_id, seat, from_seq, to_seq, customer_id)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1"
    )
    connections = [await pool.acquire() for _ in range(clients)]
    try:

        async def work(n: int, rng: random.Random, tally: Tally) -> None:
            start = rng.randrange(len(STOPS) - 1)
            end = rng.randrange(start + 1, len(STOPS))
            began = time.perf_counter()
            won = await connections[n].fetchval(
                claim, rng.choice(trips), rng.choice(labels), start, end, n
            )
            tally.latencies.append(time.perf_counter() - began)
            if won:
                tally.held += 1
            else:
                tally.refused["conflict"] += 1

        await run_clients(clients, 1.0, work, seed=21)
        return await run_clients(clients, seconds, work, seed=22)
    finally:
        for conn in connections:
            await pool.release(conn)
        await pool.close()


# ---- the run -----------------------------------------------------------------------


async def main(args: argparse.Namespace) -> dict[str, Any]:
    admin_url = os.environ.get("KASSA_DATABASE_URL")
    if not admin_url:
        sys.exit("set KASSA_DATABASE_URL (a PostgreSQL URL for the figures that count)")
    database = contextlib.AsyncExitStack()
    url = await database.enter_async_context(fresh_database(admin_url, "holds"))
    sqlite = is_sqlite(url)
    log(f"database {make_url(url).database} ({'sqlite' if sqlite else 'postgresql'}), "
        f"{args.clients} clients, {args.processes} process(es), {os.cpu_count()} cores")
    try:
        engine = create_engine(url, pool_size=max(args.clients, 32))
        network = await build_network(engine, args.trips)
        log(f"network: {args.trips} trips of a {len(STOPS)}-stop route, {CAPACITY}-seat coach")

        # (a)
        if args.processes > 1:
            holds = await holds_in_processes(
                url, network.trips, args.clients, args.seconds, args.warmup, args.processes
            )
        else:
            holds = await holds_in_process(
                url, network.trips, args.clients, args.seconds, args.warmup, seed=1
            )
        holds_per_s = holds.held / holds.seconds
        log(f"(a) {holds.held} holds in {holds.seconds:.1f} s = {holds_per_s:.0f} holds/s; "
            f"p50 {ms(percentile(holds.latencies, 0.5))} ms, "
            f"p99 {ms(percentile(holds.latencies, 0.99))} ms; refused {dict(holds.refused)}")

        # (b)
        empty, full = await hot_trip(engine, network, args.clients, args.hot_seconds)
        empty_fill = await live_fill(engine, network.hot_empty)
        full_fill = await live_fill(engine, network.hot_full)
        hot_p99_empty = percentile(empty.latencies, 0.99)
        hot_p99_full = percentile(full.latencies, 0.99)
        for name, tally, fill in (("empty", empty, empty_fill), ("90% sold", full, full_fill)):
            log(f"(b) hot trip {name}: {len(tally.latencies)} holds "
                f"({len(tally.latencies) / tally.seconds:.0f}/s, {tally.held} held then "
                f"cancelled, refused {dict(tally.refused)}), "
                f"p50 {ms(percentile(tally.latencies, 0.5))} ms, "
                f"p99 {ms(percentile(tally.latencies, 0.99))} ms; seats live at the end {fill:.0%}")
        ratio = hot_p99_full / hot_p99_empty
        log(f"(b) hot p99 90% / empty = {ratio:.2f} (target <= 2)")
        custom_plan, generic_plan = await explain_taken_seats(engine, network.hot_full)
        log("(b) taken seats on the 90% trip, plan with the values:")
        for line in custom_plan:
            log("      " + line)
        if generic_plan:
            log("    generic plan (what a prepared statement settles on):")
            for line in generic_plan:
                log("      " + line)
        partial_index = all(
            any("ix_allocations_live" in line for line in plan)
            for plan in (custom_plan, generic_plan) if plan
        )
        log(f"    partial index used: {partial_index}")

        oversold = await count_oversold(engine)
        log(f"oversold (double allocations on overlapping segments): {oversold}")
        await engine.dispose()

        # (c)
        bare_per_s: float | None = None
        if not sqlite:
            bare = await bare_claims(url, network.trips, args.clients, args.bare_seconds)
            attempts = len(bare.latencies)
            bare_per_s = attempts / bare.seconds
            log(f"(c) bare asyncpg claim: {attempts} claims in {bare.seconds:.1f} s = "
                f"{bare_per_s:.0f} claims/s ({bare.held} won, {bare.refused['conflict']} "
                f"conflicts), p50 {ms(percentile(bare.latencies, 0.5))} ms, "
                f"p99 {ms(percentile(bare.latencies, 0.99))} ms")
        else:
            log("(c) bare asyncpg claim: skipped on SQLite")
    finally:
        await database.aclose()
    ratio_vs_bare = round(holds_per_s / bare_per_s, 3) if bare_per_s else None
    if ratio_vs_bare is not None:
        log(f"holds/s vs bare claims/s = {ratio_vs_bare} (target >= 0.5)")
    return {
        "holds_per_s": round(holds_per_s),
        "hold_p50_ms": ms(percentile(holds.latencies, 0.5)),
        "hold_p99_ms": ms(percentile(holds.latencies, 0.99)),
        "hot_p99_empty_ms": ms(hot_p99_empty),
        "hot_p99_90pct_ms": ms(hot_p99_full),
        "hot_p99_ratio": round(ratio, 2),
        "hot_partial_index": partial_index,
        "bare_claims_per_s": round(bare_per_s) if bare_per_s else None,
        "ratio_vs_bare": ratio_vs_bare,
        "oversold": oversold,
        "clients": args.clients,
        "processes": args.processes,
        "database": "sqlite" if sqlite else "postgresql",
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--processes", type=int, default=1,
                        help="split the clients of part (a) over this many processes")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of part (a)")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--hot-seconds", type=float, default=6.0, help="each hot-trip phase")
    parser.add_argument("--bare-seconds", type=float, default=10.0)
    parser.add_argument("--trips", type=int, default=1000)
    return parser.parse_args(argv)


if __name__ == "__main__":
    figures = asyncio.run(main(parse_args()))
    print(json.dumps(figures), flush=True)
