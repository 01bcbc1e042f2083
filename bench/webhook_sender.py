"""The payment provider's side of bench/webhooks.py, in a process of its own.

    .venv/bin/python bench/webhook_sender.py REQUESTS.json URL CLIENTS

POSTs each signed webhook of REQUESTS.json (a list of {"body", "signature"}) to URL with
CLIENTS concurrent keep-alive connections, and prints one JSON object: the seconds it
took, each request's latency and the count of each status. A provider calls from its own
machines: run here, in the server's process, the client's CPU would be counted against
the server's rate.

On a machine with two cores the sender's CPU still comes out of the server's, so it costs
as little as a load generator such as wrk would: each request is built as bytes before the
clock starts and written as they are, and the answer is read as HTTP/1.1 needs (status
line, headers, a Content-Length body). aiohttp's client took 0.4-0.6 ms of CPU a request
here, a third as much as the server's confirmation itself; this takes about 0.1.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SIGNATURE_HEADER = "Kassa-Signature"


def http_request(url: str, body: bytes, signature: str) -> bytes:
    """One POST as HTTP/1.1 sends it, on a connection kept open."""
    parts = urlsplit(url)
    head = (f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\n{SIGNATURE_HEADER}: {signature}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("ascii") + body


async def read_response(reader: asyncio.StreamReader) -> int:
    """The status of the next answer on the connection, its body read (and dropped)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *headers = head[:-4].decode("latin-1").split("\r\n")
    length = None
    for header in headers:
        name, _, value = header.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length is None:
        raise RuntimeError(f"an answer without Content-Length: {status_line}")
    await reader.readexactly(length)
    return int(status_line.split(" ", 2)[1])


async def send_all(requests: list[dict[str, str]], url: str, clients: int) -> dict[str, Any]:
    prepared = [http_request(url, r["body"].encode(), r["signature"]) for r in requests]
    queue = list(reversed(prepared))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    parts = urlsplit(url)
    connections = [await asyncio.open_connection(parts.hostname, parts.port)
                   for _ in range(clients)]

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while queue:
            request = queue.pop()
            began = time.perf_counter()
            writer.write(request)
            status = await read_response(reader)
            latencies.append(time.perf_counter() - began)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client(reader, writer) for reader, writer in connections))
    seconds = time.perf_counter() - started
    for _, writer in connections:
        writer.close()
        await writer.wait_closed()
    return {"seconds": seconds, "latencies": latencies, "statuses": statuses}


if __name__ == "__main__":
    path, target, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
    loaded = json.loads(Path(path).read_text())
    print(json.dumps(asyncio.run(send_all(loaded, target, concurrency))))
