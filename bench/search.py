"""Search latency on a national timetable: import the DB long-distance feed, then search.

    KASSA_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/search.py [--feed PATH] [--days 30] [--searches 2000]

The database named by KASSA_DATABASE_URL is only used to create a fresh one beside it
(a temporary file for SQLite), which is dropped at the end. The feed is imported for
``--days`` days from today (shifted onto today's calendar) and the import is timed. Then
two passes of ``--searches`` searches for random station pairs (mostly connected), one
after another:

* cold: right after the import, as a freshly started process meets them, loading each
  route the first time a search needs it;
* warm: with every route in the process's route cache, as in a bot that has run a while.
  The headline figures (search_p50_ms ...) are this pass.

Figures go to stdout; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database_url_from_env, fresh_database
from booking.errors import BookingError
from booking.gtfs import read_feed
from booking.service import BookingService
from booking.timetable import Timetable
from storage.database import create_engine
from storage.tables import routes
from storage.timetable import store_timetable
from storage.uow import SqlUnitOfWorkFactory

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FEED = REPO.parent / "shared/data/gtfs/db-fernverkehr-2019/db-fv-gtfs-2019.zip"


@dataclass(frozen=True)
class Query:
    origin: str
    destination: str
    day: date


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feed", type=Path, default=DEFAULT_FEED)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--searches", type=int, default=2000)
    parser.add_argument("--unconnected", type=float, default=0.1,
                        help="share of searches for random pairs, mostly not connected")
    parser.add_argument("--seed", type=int, default=2019)
    return parser.parse_args()


def make_queries(
    timetable: Timetable, first_day: date, days: int, count: int, unconnected: float,
    rng: random.Random,
) -> list[Query]:
    """Mostly pairs some route serves in this order; a few random pairs of stations."""
    stations = [s.code for s in timetable.stations]
    # Searches avoid the first day: part of it has gone by (and "today" differs by timezone).
    search_days = [first_day + timedelta(days=n) for n in range(1, days)] or [first_day]
    queries = []
    for _ in range(count):
        if rng.random() < unconnected:
            origin, destination = rng.sample(stations, 2)
        else:
            route = rng.choice(timetable.routes)
            i, j = sorted(rng.sample(range(len(route.stops)), 2))
            origin, destination = route.stops[i].station_code, route.stops[j].station_code
        if origin != destination:
            queries.append(Query(origin, destination, rng.choice(search_days)))
    return queries


async def run_searches(service: BookingService, queries: list[Query]) -> tuple[list[float], int]:
    """Latency of each search in ms, and how many found at least one trip."""
    latencies, found = [], 0
    for query in queries:
        start = time.perf_counter()
        try:
            options = await service.search(query.origin, query.destination, query.day)
        except BookingError:
            options = []  # e.g. wrong direction: still a search the bot has to answer
        latencies.append((time.perf_counter() - start) * 1000)
        found += bool(options)
    return latencies, found


async def load_every_route(engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory) -> None:
    """Fill the process's route cache, as a long-running bot's would be."""
    async with engine.connect() as conn:
        route_ids = (await conn.execute(select(routes.c.id))).scalars().all()
    async with uow_factory() as uow:
        for route_id in route_ids:
            await uow.catalog.route(route_id)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def main() -> None:
    args = parse_args()
    url = database_url_from_env()
    rng = random.Random(args.seed)
    today = datetime.now(UTC).date()
    print(f"database {make_url(url).render_as_string(hide_password=True)}")
    async with fresh_database(url, "search") as fresh:
        figures = await measure(args, fresh, today, rng)
    figures["database"] = make_url(url).get_backend_name()
    print(f"warm    p50 {figures['search_p50_ms']} ms, p95 {figures['search_p95_ms']} ms, "
          f"p99 {figures['search_p99_ms']} ms, {figures['searches_per_s']} searches/s")
    print(json.dumps(figures))


async def measure(
    args: argparse.Namespace, url: str, today: date, rng: random.Random
) -> dict[str, Any]:
    """Import the feed into the database at ``url``, then time the searches."""

    started = time.perf_counter()
    timetable = read_feed(args.feed, today=today, shift_to=today, days=args.days)
    read_s = time.perf_counter() - started
    engine: AsyncEngine = create_engine(url)
    report = await store_timetable(engine, timetable)
    import_s = time.perf_counter() - started
    print(f"import  {import_s:.1f} s (read {read_s:.1f} s, store {import_s - read_s:.1f} s): "
          f"{report.trips_added} trips, {report.routes_added} routes, {report.stations} stations")

    uow_factory = SqlUnitOfWorkFactory(engine)
    service = BookingService(uow_factory)
    cold_queries = make_queries(timetable, today, args.days, args.searches, args.unconnected, rng)
    cold, _ = await run_searches(service, cold_queries)
    print(f"cold    p50 {percentile(cold, 0.5):.2f} ms, p95 {percentile(cold, 0.95):.2f} ms, "
          f"p99 {percentile(cold, 0.99):.2f} ms")

    await load_every_route(engine, uow_factory)
    queries = make_queries(timetable, today, args.days, args.searches, args.unconnected, rng)
    started = time.perf_counter()
    latencies, found = await run_searches(service, queries)
    elapsed = time.perf_counter() - started
    await engine.dispose()

    return {
        "import_s": round(import_s, 2),
        "read_s": round(read_s, 2),
        "trips": report.trips_added,
        "routes": report.routes_added,
        "stations": report.stations,
        "searches": len(latencies),
        "found_share": round(found / len(latencies), 3),
        "search_p50_ms": round(percentile(latencies, 0.50), 2),
        "search_p95_ms": round(percentile(latencies, 0.95), 2),
        "search_p99_ms": round(percentile(latencies, 0.99), 2),
        "search_mean_ms": round(statistics.fmean(latencies), 2),
        "searches_per_s": round(len(latencies) / elapsed, 1),
        "cold_search_p50_ms": round(percentile(cold, 0.50), 2),
        "cold_search_p95_ms": round(percentile(cold, 0.95), 2),
    }


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
