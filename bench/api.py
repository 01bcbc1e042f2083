"""Holds through the booking HTTP API beside the same holds in-process, in one run.

    KASSA_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/api.py [--seconds 10] [--clients 32,256]

A fresh database beside the one the URL names is migrated and filled with the network of
bench/holds.py (trips of a 49-seat coach, stations A-F), then dropped at the end. For each
number of concurrent clients, two phases take turns so that a passing load on the machine
hits both alike:

- in-process: the clients call BookingService.hold in this process;
- HTTP: a `kassa booking-api` process serves the same database, and the clients call it
  through HttpBookingClient (booking/http_client.py), the client the bot uses.

Each client holds 1-2 seats on a random segment of a random trip, for ``--seconds``,
after a short warm-up. Both sides get the same database pool (``--pool-size``), since
PostgreSQL's connections are shared with everyone else on the server. Printed per phase:
holds/s, p50 and p99 latency (refusals included), and HTTP's share of the in-process
rate (target: 0.7 or more). A query counts double allocations at the end. The last line
is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database_url_from_env, fresh_database, percentile
from bench.holds import Tally, build_network, count_oversold, random_holds, run_clients
from booking.http_client import HttpBookingClient
from booking.service import BookingService
from storage.database import create_engine
from storage.uow import SqlUnitOfWorkFactory

ROOT = Path(__file__).resolve().parent.parent
KASSA = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]
TOKEN = "bench-api-token"


def log(*parts: Any) -> None:
    print(*parts, flush=True)


def figures(tally: Tally) -> dict[str, float]:
    return {
        "holds_per_s": round(tally.held / tally.seconds, 1),
        "answers_per_s": round(len(tally.latencies) / tally.seconds, 1),
        "p50_ms": round(percentile(tally.latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(tally.latencies, 0.99) * 1000, 2),
    }


async def in_process(url: str, trips: list[int], clients: int, seconds: float, warmup: float,
                     seed: int, pool_size: int) -> Tally:
    engine = create_engine(url, pool_size=pool_size)
    try:
        work = random_holds(BookingService(SqlUnitOfWorkFactory(engine)), trips,
                            base=seed * 100_000)
        await run_clients(clients, warmup, work, seed=seed + 7)
        return await run_clients(clients, seconds, work, seed=seed)
    finally:
        await engine.dispose()


async def over_http(api_url: str, trips: list[int], clients: int, seconds: float,
                    warmup: float, seed: int) -> Tally:
    client = HttpBookingClient(api_url, TOKEN, connections=clients)
    await client.open()
    try:
        work = random_holds(client, trips, base=seed * 100_000)  # type: ignore[arg-type]
        await run_clients(clients, warmup, work, seed=seed + 7)
        return await run_clients(clients, seconds, work, seed=seed)
    finally:
        await client.close()


def start_api(url: str, pool_size: int) -> tuple[subprocess.Popen[str], str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("KASSA_")}
    env.update(KASSA_DATABASE_URL=url, KASSA_BOOKING_API_TOKEN=TOKEN, PYTHONPATH=str(ROOT),
               # A line per hold would be most of what the terminal shows, and the
               # figures are the service's, as before it logged each hold.
               KASSA_LOG_LEVEL="warning")
    process = subprocess.Popen(
        [*KASSA, "booking-api", "--port", "0", "--pool-size", str(pool_size)],
        env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"listening on (http://[\d.]+:\d+)/v1", line)
    if found is None:
        process.kill()
        raise SystemExit(f"kassa booking-api did not start: {line!r}")
    return process, found.group(1)


def stop_api(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.communicate(timeout=30)
    if process.returncode != 0:
        log(f"kassa booking-api exited with {process.returncode}")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"seconds_per_phase": args.seconds, "pool_size": args.pool_size}
    async with fresh_database(database_url_from_env(), "api") as url:
        engine = create_engine(url)
        network = await build_network(engine, args.trips)
        process, api_url = start_api(url, args.pool_size)
        try:
            for clients in args.clients:
                local = await in_process(url, network.trips, clients, args.seconds,
                                         args.warmup, 1, args.pool_size)
                remote = await over_http(api_url, network.trips, clients, args.seconds,
                                         args.warmup, 2)
                local_figures, remote_figures = figures(local), figures(remote)
                ratio = round(remote_figures["holds_per_s"]
                              / max(local_figures["holds_per_s"], 0.1), 2)
                log(f"{clients:>4} clients  in-process {local_figures}  "
                    f"refused {dict(local.refused)}")
                log(f"{clients:>4} clients  HTTP       {remote_figures}  "
                    f"refused {dict(remote.refused)}")
                log(f"{clients:>4} clients  HTTP / in-process holds/s = {ratio}")
                for name, value in local_figures.items():
                    result[f"inprocess_{clients}_clients_{name}"] = value
                for name, value in remote_figures.items():
                    result[f"http_{clients}_clients_{name}"] = value
                result[f"http_to_inprocess_{clients}_clients_ratio"] = ratio
        finally:
            stop_api(process)
        result["oversold_seats"] = await count_oversold(engine)
        await engine.dispose()
    return result


def clients_list(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if part.strip()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=clients_list, default=[32, 256])
    parser.add_argument("--trips", type=int, default=1000)
    parser.add_argument("--pool-size", type=int, default=10)
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(main(arguments))), flush=True)
