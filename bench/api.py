"""Holds through the booking HTTP API beside the same holds in-process, in one run.

    KASSA_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/api.py [--seconds 10] [--clients 32,256] [--slices 4]
            [--event-loop uvloop|asyncio]

A fresh database beside the one the URL names is migrated and filled with the network of
bench/holds.py (trips of a 49-seat coach, stations A-F), then dropped at the end. For each
number of concurrent clients, two sides are measured:

- in-process: the clients call BookingService.hold in this process;
- HTTP: a `kassa booking-api` process serves the same database, and the clients call it
  through HttpBookingClient (booking/http_client.py), the client the bot uses. The server
  is a process of its own, as it would be on its own machine; the clients stay in this
  one, which does nothing else meanwhile.

Each client holds 1-2 seats on a random segment of a random trip. After a warm-up of
each side, ``--seconds`` of each are measured in ``--slices`` slices taken in turn
(in-process, HTTP, HTTP, in-process, ...), so that a load passing over the machine, which
is shared, hits both sides alike. Both sides get the same database pool
(``--pool-size``), since PostgreSQL's connections are shared with everyone else on the
server. Printed per side: holds/s, p50 and p99 latency (refusals included), the CPU each
of our processes spent per answer (this one's, and the server's from /proc on Linux: on a
machine of two cores the client's CPU is taken from the server and the database), and
HTTP's share of the in-process rate (target: 0.7 or more). A query counts double
allocations at the end. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database_url_from_env, fresh_database, percentile
from bench.holds import Tally, build_network, count_oversold, random_holds, run_clients
from booking.http_client import HttpBookingClient
from booking.service import BookingService
from booking.tickets.codes import generate_signing_key
from bot import event_loop
from storage.database import create_engine
from storage.uow import SqlUnitOfWorkFactory

ROOT = Path(__file__).resolve().parent.parent
KASSA = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]
TOKEN = "bench-api-token-0123"


def log(*parts: Any) -> None:
    print(*parts, flush=True)


def figures(tally: Tally, *cpu: tuple[str, float | None]) -> dict[str, float | None]:
    answers = len(tally.latencies)
    result: dict[str, float | None] = {
        "holds_per_s": round(tally.held / tally.seconds, 1),
        "answers_per_s": round(answers / tally.seconds, 1),
        "p50_ms": round(percentile(tally.latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(tally.latencies, 0.99) * 1000, 2),
    }
    for name, seconds in cpu:
        result[f"{name}_cpu_ms_per_answer"] = (
            None if seconds is None or not answers else round(seconds * 1000 / answers, 3))
    return result


def process_cpu(pid: int) -> float | None:
    """The CPU seconds a process has spent (user and system), from /proc; None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Side:
    """One side's clients, measured slice by slice: what they answered and the CPU spent."""

    def __init__(self, work: Any, clients: int, server: int | None = None) -> None:
        self.work = work
        self.clients = clients
        self.server = server
        self.tally = Tally()
        self.cpu = 0.0
        self.server_cpu: float | None = 0.0 if server is not None else None

    async def run(self, seconds: float, seed: int) -> None:
        cpu, server = time.process_time(), self._server_cpu()
        part = await run_clients(self.clients, seconds, self.work, seed=seed)
        self.cpu += time.process_time() - cpu
        after = self._server_cpu()
        if self.server_cpu is not None and server is not None and after is not None:
            self.server_cpu += after - server
        else:
            self.server_cpu = None
        self.tally.latencies += part.latencies
        self.tally.held += part.held
        self.tally.refused.update(part.refused)
        self.tally.seconds += part.seconds

    def _server_cpu(self) -> float | None:
        return None if self.server is None else process_cpu(self.server)


async def measure(url: str, api: subprocess.Popen[str], api_url: str, trips: list[int],
                  clients: int, args: argparse.Namespace) -> tuple[Side, Side]:
    """Both sides at ``clients`` concurrent clients, their slices taken in turn."""
    engine = create_engine(url, pool_size=args.pool_size)
    client = HttpBookingClient(api_url, TOKEN, connections=clients)
    await client.open()
    try:
        local = Side(random_holds(BookingService(SqlUnitOfWorkFactory(engine)), trips,
                                  base=100_000), clients)
        remote = Side(random_holds(client, trips, base=200_000),  # type: ignore[arg-type]
                      clients, server=api.pid)
        # The API holds only for customers it has been told of (PUT /v1/customers/{id}),
        # as a channel would on a customer's first contact: one per client.
        await asyncio.gather(*(client.ensure(200_000 + n, f"Client {n}")
                               for n in range(clients)))
        # Warm-ups: connections opened, statements prepared, caches filled.
        await run_clients(clients, args.warmup, local.work, seed=8)
        await run_clients(clients, args.warmup, remote.work, seed=9)
        share = args.seconds / args.slices
        for n in range(args.slices):
            # In turn, in-process first in every other slice: a trend in the machine's load
            # over the run weighs on both sides alike.
            for side in (local, remote) if n % 2 == 0 else (remote, local):
                await side.run(share, seed=10 * n + (1 if side is local else 2))
        return local, remote
    finally:
        await client.close()
        await engine.dispose()


def start_api(url: str, pool_size: int, loop_name: str) -> tuple[subprocess.Popen[str], str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("KASSA_")}
    env.update(KASSA_DATABASE_URL=url, KASSA_BOOKING_API_TOKEN=TOKEN, PYTHONPATH=str(ROOT),
               KASSA_SECRET_KEY=secrets.token_hex(32),
               KASSA_PAYMENT_WEBHOOK_SECRET=secrets.token_hex(32),
               KASSA_TICKET_SIGNING_KEY=generate_signing_key(),
               # A line per hold would be most of what the terminal shows, and the
               # figures are the service's, as before it logged each hold.
               KASSA_LOG_LEVEL="warning", KASSA_EVENT_LOOP=loop_name,
               # Each client holds again and again for its one customer, as no passenger
               # would; the in-process side has no cap either.
               KASSA_MAX_LIVE_HOLDS="0")
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
    result: dict[str, Any] = {"seconds_per_phase": args.seconds, "slices": args.slices,
                              "pool_size": args.pool_size, "event_loop": args.event_loop}
    async with fresh_database(database_url_from_env(), "api") as url:
        engine = create_engine(url)
        # --trips for each number of clients, their own: the seats one phase sold would
        # leave the next to be refused, which the in-process side is quicker at, so the
        # holds/s of the two sides would say how they share what was left, not their speed.
        network = await build_network(engine, args.trips * len(args.clients))
        phases = len(args.clients)
        process, api_url = start_api(url, args.pool_size, args.event_loop)
        try:
            for phase, clients in enumerate(args.clients):
                local, remote = await measure(url, process, api_url,
                                              network.trips[phase::phases], clients, args)
                local_figures = figures(local.tally, ("process", local.cpu))
                remote_figures = figures(remote.tally, ("client", remote.cpu),
                                         ("server", remote.server_cpu))
                ratio = round(float(remote_figures["holds_per_s"] or 0)
                              / max(float(local_figures["holds_per_s"] or 0), 0.1), 2)
                log(f"{clients:>4} clients  in-process {local_figures}  "
                    f"refused {dict(local.tally.refused)}")
                log(f"{clients:>4} clients  HTTP       {remote_figures}  "
                    f"refused {dict(remote.tally.refused)}")
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
    parser.add_argument("--slices", type=int, default=4,
                        help="slices per side, taken in turn (default 4)")
    parser.add_argument("--clients", type=clients_list, default=[32, 256])
    parser.add_argument("--trips", type=int, default=1000,
                        help="trips of each number of clients (default 1000)")
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument("--event-loop", choices=event_loop.EVENT_LOOPS, default="uvloop",
                        help="the loop of both processes, this one and the server")
    arguments = parser.parse_args()
    print(json.dumps(event_loop.run(main(arguments), arguments.event_loop)), flush=True)
