"""The booking client's HTTP/1.1 connections (booking/http_connections.py) against a server
that answers with exactly the bytes each test gives it: every way an answer's body may end,
which connections are kept, and every way an answer may fail to come."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from booking.http_connections import ConnectionPool, HttpError, Origin
from bot import event_loop

Reply = Callable[[bytes], bytes | None]  # a request's bytes -> the answer's (None: close)


class Server:
    """A loopback server that reads one request at a time and answers ``reply(request)``."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.reply(request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(reply: Reply, *, timeout_s: float = 5.0
                  ) -> AsyncIterator[tuple[Server, ConnectionPool]]:
    server = Server(reply)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    pool = ConnectionPool(f"http://127.0.0.1:{port}/base/", limit=4, timeout_s=timeout_s)
    try:
        yield server, pool
    finally:
        await pool.close()
        for writer in server.writers:
            writer.close()
        listening.close()
        await listening.wait_closed()


def answer(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def test_the_request_goes_out_whole_and_its_connection_is_kept() -> None:
    async with serving(lambda request: answer(b'{"ok":true}', "201 Created")) as (server, pool):
        first = await pool.request("POST", "/v1/holds?x=1", "Authorization: Bearer t\r\n",
                                   b'{"a":1}')
        second = await pool.request("GET", "/v1/limits", "Authorization: Bearer t\r\n")
    assert (first.status, first.body) == (201, b'{"ok":true}')
    assert second.status == 201
    assert server.connections == 1
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /base/v1/holds?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{pool.origin.port}" in lines
    assert "Authorization: Bearer t" in lines and "Content-Length: 7" in lines
    assert body == b'{"a":1}'
    assert not any(line.startswith("Content-Length") for line in
                   server.requests[1].decode().split("\r\n"))


def test_connections_work_on_uvloop_whose_transports_are_not_asyncios_classes() -> None:
    """The servers run on uvloop (bot/event_loop.py), so a bot calling the booking API
    does too."""

    async def two_requests() -> tuple[int, int]:
        async with serving(lambda request: answer(b"{}")) as (server, pool):
            first = await pool.request("GET", "/v1/limits", "")
            second = await pool.request("POST", "/v1/holds", "", b"{}")
            return first.status + second.status, server.connections

    assert event_loop.run(two_requests(), "uvloop") == (400, 1)


async def test_chunked_answers_and_interim_answers_are_read_whole() -> None:
    chunked = (b"HTTP/1.1 100 Continue\r\n\r\n"
               b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4;ext=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nX-Trailer: y\r\n\r\n")
    async with serving(lambda request: chunked) as (server, pool):
        for _ in range(2):
            got = await pool.request("GET", "/x", "")
            assert (got.status, got.body) == (200, b'{"a":1}')
    assert server.connections == 1


async def test_an_answer_without_a_length_lasts_until_the_connection_closes() -> None:
    replies = iter([b"HTTP/1.0 200 OK\r\n\r\nall of it", answer(b"{}")])
    async with serving(lambda request: next(replies)) as (server, pool):
        task = asyncio.create_task(pool.request("GET", "/x", ""))
        await asyncio.sleep(0.05)
        server.writers[0].close()  # the server ends the body by closing
        got = await task
        assert (got.status, got.body) == (200, b"all of it")
        await pool.request("GET", "/x", "")  # not on the closed connection
    assert server.connections == 2


async def test_a_connection_the_server_closes_is_not_reused() -> None:
    closing = answer(b"{}", extra="Connection: close\r\n")
    async with serving(lambda request: closing) as (server, pool):
        await pool.request("GET", "/x", "")
        await pool.request("GET", "/x", "")
    assert server.connections == 2


async def test_a_kept_connection_closed_by_the_server_is_retried_only_for_a_get() -> None:
    calls = 0

    def reply(request: bytes) -> bytes | None:
        nonlocal calls
        calls += 1
        # The second request on the first connection finds it closed without an answer.
        return answer(b"{}") if calls != 2 else None

    async with serving(reply) as (server, pool):
        await pool.request("GET", "/x", "")
        got = await pool.request("GET", "/x", "")  # retried on a new connection
        assert got.status == 200 and server.connections == 2
        calls = 1  # the next request on the kept connection is refused again
        with pytest.raises(HttpError):
            await pool.request("POST", "/x", "", b"{}")  # a POST is never sent twice
        assert server.connections == 2


@pytest.mark.parametrize("bad", [
    b"SSH-2.0-OpenSSH\r\n\r\n",
    b"HTTP/1.1 2x0 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",  # then the server closes
])
async def test_what_is_not_a_whole_http_answer_is_an_error(bad: bytes) -> None:
    sent = False

    def reply(request: bytes) -> bytes | None:
        nonlocal sent
        if sent:
            return None
        sent = True
        return bad

    async with serving(reply) as (server, pool):
        task = asyncio.create_task(pool.request("POST", "/x", "", b"{}"))
        await asyncio.sleep(0.05)
        for writer in server.writers:
            writer.close()
        with pytest.raises(HttpError):
            await task


async def test_a_timeout_closes_the_connection_and_the_next_request_opens_another() -> None:
    slow = True

    def reply(request: bytes) -> bytes | None:
        return b"" if slow else answer(b"{}")  # nothing comes back while slow

    async with serving(reply, timeout_s=0.2) as (server, pool):
        with pytest.raises(TimeoutError):
            await pool.request("GET", "/x", "")
        slow = False
        got = await pool.request("GET", "/x", "")
    assert got.status == 200 and server.connections == 2


async def test_no_server_is_an_os_error() -> None:
    listening = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()
    pool = ConnectionPool(f"http://127.0.0.1:{port}", limit=1, timeout_s=2)
    with pytest.raises(OSError):
        await pool.request("GET", "/x", "")


def test_origins() -> None:
    assert Origin.parse("http://example.org/api/") == Origin(
        "http", "example.org", 80, "example.org", "/api")
    assert Origin.parse("https://[::1]:8443") == Origin("https", "::1", 8443, "[::1]:8443", "")
    with pytest.raises(ValueError):
        Origin.parse("ftp://example.org")

