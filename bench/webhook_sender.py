"""The payment provider's side of bench/webhooks.py, in a process of its own.

    .venv/bin/python bench/webhook_sender.py REQUESTS.json URL CLIENTS

POSTs each signed webhook of REQUESTS.json (a list of {"body", "signature"}) to URL with
CLIENTS concurrent connections, and prints one JSON object: the seconds it took, each
request's latency and the count of each status. A provider calls from its own machines: run
here, in the server's process, the client's CPU would be counted against the server's rate.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

SIGNATURE_HEADER = "Kassa-Signature"


async def send_all(requests: list[dict[str, str]], url: str, clients: int) -> dict[str, Any]:
    queue = list(reversed(requests))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as http:

        async def client() -> None:
            while queue:
                request = queue.pop()
                began = time.perf_counter()
                async with http.post(url, data=request["body"].encode(), headers={
                    SIGNATURE_HEADER: request["signature"],
                    "Content-Type": "application/json",
                }) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                latencies.append(time.perf_counter() - began)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "latencies": latencies, "statuses": statuses}


if __name__ == "__main__":
    path, target, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
    loaded = json.loads(Path(path).read_text())
    print(json.dumps(asyncio.run(send_all(loaded, target, concurrency))))
