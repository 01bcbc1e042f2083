"""A live `kassa booking-api` process on PostgreSQL, from outside: a race of 300 buyers for
10 seats over HTTP, and a property-based fuzzer (schemathesis) against its own OpenAPI
document. Then SIGTERM: exit 0 and one line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from booking.http_contract import OPERATIONS
from booking.tickets.codes import generate_signing_key
from storage.database import create_engine
from storage.testing import empty_all_tables
from tests.factories import Network, build_network, double_allocations, pax
from tests.test_metrics import at, parse

pytestmark = pytest.mark.postgres_only

TOKEN = "live-test-token-91c2"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parent.parent
KASSA = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]


@dataclass
class LiveApi:
    url: str
    database_url: str
    network: Network
    process: subprocess.Popen[str]


async def _seed(database_url: str) -> Network:
    engine = create_engine(database_url)
    try:
        await empty_all_tables(engine)
        # The process decides by the real clock: the trips run from tomorrow on.
        return await build_network(engine, first_day=datetime.now(UTC).date() + timedelta(1),
                                   days=3)
    finally:
        await engine.dispose()


def _environment(database_url: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("KASSA_")}
    env.update(KASSA_DATABASE_URL=database_url, KASSA_BOOKING_API_TOKEN=TOKEN,
               KASSA_SECRET_KEY="k" * 32, KASSA_PAYMENT_WEBHOOK_SECRET="w" * 32,
               KASSA_TICKET_SIGNING_KEY=generate_signing_key(), PYTHONPATH=str(ROOT))
    return env


@pytest.fixture(scope="module")
def live_api(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """`kassa booking-api --port 0` on a seeded PostgreSQL database, stopped with SIGTERM."""
    network = asyncio.run(_seed(postgres_url))
    where = tmp_path_factory.mktemp("booking-api")
    # Its log goes to a file: a pipe read only at the end would fill up and stop it.
    with (where / "stderr.log").open("w+") as log:
        process = subprocess.Popen(
            [*KASSA, "booking-api", "--port", "0"], cwd=where, env=_environment(postgres_url),
            stdout=subprocess.PIPE, stderr=log, text=True)
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)/v1", first)
        if found is None:
            process.kill()
            process.wait()
            log.seek(0)
            pytest.fail(f"booking-api did not start: {first!r} {log.read()!r}")
        yield LiveApi(found.group(1), postgres_url, network, process)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=20)
        log.seek(0)
        err = log.read()
    assert process.returncode == 0, err[-3000:]
    assert out.strip().splitlines() == ["kassa booking-api: stopped"]
    assert "Traceback" not in err, err[-3000:]
    for line in err.splitlines():  # the log: one JSON object a line
        json.loads(line)


# ---- the race (first: it needs the seats untouched) ----------------------------------------

async def test_300_concurrent_holds_for_10_free_seats(live_api: LiveApi) -> None:
    trip = live_api.network.trips[min(live_api.network.trips)]
    async with aiohttp.ClientSession(live_api.url, headers=AUTH,
                                     connector=aiohttp.TCPConnector(limit=0)) as session:

        async def hold(customer: int, passengers: list[str]) -> tuple[int, str]:
            async with session.post("/v1/holds", json={
                    "customer_id": customer, "trip_id": trip, "origin": "C",
                    "destination": "D", "passengers": passengers}) as response:
                body = await response.json()
                return response.status, body["error"]["code"] if "error" in body else "held"

        async def register(customer: int) -> None:
            async with session.put(f"/v1/customers/{customer}",
                                   json={"name": f"Rider {customer}", "language": "en"}
                                   ) as response:
                assert response.status == 200

        await asyncio.gather(*(register(c) for c in (1, 2, *range(1000, 1300))))
        # 10 of the 20 seats go on C->D first.
        assert await hold(1, [pax(i) for i in range(9)]) == (201, "held")
        assert await hold(2, [pax(9)]) == (201, "held")
        answers = Counter(await asyncio.gather(
            *(hold(1000 + n, [pax(n)]) for n in range(300))))
    assert answers == {(201, "held"): 10, (409, "not_enough_seats"): 290}
    # The service counted the same, and timed every request under its route's pattern.
    async with aiohttp.ClientSession(live_api.url) as session:
        async with session.get("/metrics") as refused:
            assert refused.status == 401
        async with session.get("/metrics", headers=AUTH) as response:
            assert response.status == 200
            found = parse(await response.text())
    assert at(found, "kassa_holds_placed_total") == 12
    assert at(found, "kassa_holds_refused_total", reason="not_enough_seats") == 290
    # The holds' outbox rows (their passengers' names to remember), which no process of
    # this test delivers: the API reads the backlog from the database too.
    assert at(found, "kassa_outbox_backlog", state="pending") >= 12
    requests = "kassa_http_request_duration_seconds_count"
    assert at(found, requests, route="/v1/holds", method="POST", status="201") == 12
    assert at(found, requests, route="/v1/holds", method="POST", status="409") == 290
    engine = create_engine(live_api.database_url)
    try:
        assert await double_allocations(engine, datetime.now(UTC)) == []
    finally:
        await engine.dispose()


# ---- the fuzzer ----------------------------------------------------------------------------

# Per operation and mode; 23 operations make about 550 requests, some 20 s on this machine.
EXAMPLES = 12


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
def test_every_answer_is_documented_and_no_input_is_a_server_error(
        live_api: LiveApi, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{live_api.url}/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(OPERATIONS)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    if mode is GenerationMode.NEGATIVE:
        checks.append(negative_data_rejection)  # what breaks the document is refused
    answered: Counter[int] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def exchange(case: schemathesis.Case) -> None:
            response = case.call_and_validate(base_url=live_api.url, headers=AUTH,
                                              checks=checks)
            answered[response.status_code // 100] += 1

        exchange()
    # The fuzzer reached the service: valid requests were answered, invalid ones refused.
    assert answered[4] > 0
    if mode is GenerationMode.POSITIVE:
        assert answered[2] > 0
    assert set(answered) <= {2, 4}, answered
