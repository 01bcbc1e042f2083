"""Keep-alive HTTP/1.1 connections to one booking service, for booking/http_client.py.

The client only ever talks to one origin, with small JSON requests and answers. aiohttp's
client, used before, spent about twice the CPU of this module on each call (its session,
request and response objects, cookie jar, tracing hooks, timers and a task per request):
under bench/api.py the calling process spent 0.48-0.60 ms per hold with it and 0.23-0.29
with this, answers checked by pydantic in both, and on a machine the client shares with
the service that CPU is taken from the service. So: a pool of keep-alive connections
to that one origin, each an asyncio protocol that writes a request in one send and parses
the answer: status line, headers, and a body by Content-Length, chunked, or up to the
connection's end.

What the pool guarantees: at most ``limit`` requests at a time (the rest wait their turn);
a connection carries one request at a time and is reused only after a complete answer that
allows it; a connection idle longer than ``IDLE_SECONDS`` is closed rather than reused (a
server or proxy closes idle connections after a while, and a request sent just as it does
is lost); a request cut off by its timeout or cancellation closes its connection. Any
failure to get a complete answer is ``HttpError`` (or the OSError or TimeoutError itself),
never a half-read answer.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

# aiohttp's client keeps idle connections 15 s; servers (aiohttp's 75 s) and proxies (nginx
# 75 s, load balancers 60 s) keep them longer, so a kept connection is still open when used.
IDLE_SECONDS = 15.0
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024
# Methods that change nothing when sent twice: sent again once on a fresh connection when a
# kept one turns out to have been closed before any answer came.
_IDEMPOTENT = frozenset({"GET", "PUT"})


class HttpError(Exception):
    """No complete HTTP answer: the connection closed early, or what came was not HTTP/1.x."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int
    host_header: str
    base_path: str  # prefixed to every request's path, without a trailing slash

    @classmethod
    def parse(cls, base_url: str) -> Origin:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        default = 443 if parts.scheme == "https" else 80
        port = parts.port or default
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        return cls(parts.scheme, host, port, shown if port == default else f"{shown}:{port}",
                   parts.path.rstrip("/"))


class _Connection(asyncio.Protocol):
    """One connection: one request at a time, its answer parsed as the bytes come."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = False
        self.idle_since = 0.0
        self._answer: asyncio.Future[Answer] | None = None
        self._got_bytes = False
        self._buffer = bytearray()
        self._status = 0
        self._length: int | None = None  # the body's length, when the head gives it
        self._chunked = False
        self._to_eof = False  # a body that lasts until the connection closes
        self._in_body = False
        self._body = bytearray()

    # ---- asyncio.Protocol ----
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, as create_connection gives; uvloop's are not subclasses of
        # asyncio.Transport (only alike), so this is said to the type checker, not checked.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        answer = self._answer
        if answer is None or answer.done():
            # Bytes nobody asked for: whatever this connection is in, it is not reused.
            self.close()
            return
        self._got_bytes = True
        self._buffer += data
        try:
            self._parse()
        except HttpError as error:
            self._fail(error)

    def eof_received(self) -> bool:
        return False  # the transport closes; connection_lost ends the answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        answer = self._answer
        if answer is None or answer.done():
            return
        if self._in_body and self._to_eof:
            answer.set_result(Answer(self._status, bytes(self._body)))
            return
        error = HttpError("the connection closed before the whole answer came")
        if exc is not None:
            error.__cause__ = exc
        answer.set_exception(error)

    # ---- one request ----
    def send(self, request: bytes) -> asyncio.Future[Answer]:
        if self.transport is None or self.closed:
            raise HttpError("the connection is closed")
        self._answer = asyncio.get_running_loop().create_future()
        self._got_bytes = False
        self._buffer.clear()
        self._body = bytearray()
        self._in_body = self._chunked = self._to_eof = False
        self._length = None
        self.reusable = False
        self.transport.write(request)
        return self._answer

    @property
    def got_bytes(self) -> bool:
        return self._got_bytes

    def close(self) -> None:
        self.closed = True
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: HttpError) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)
        self.close()

    def _parse(self) -> None:
        while not self._in_body:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    raise HttpError("the answer's head is too long")
                return
            head = bytes(self._buffer[:end]).decode("latin-1")
            del self._buffer[:end + 4]
            if not self._start(head):
                continue  # an interim answer (1xx): the real one follows
        if self._chunked:
            self._read_chunks()
        elif self._to_eof:
            self._take(len(self._buffer))
        else:
            assert self._length is not None
            self._take(min(len(self._buffer), self._length - len(self._body)))
            if len(self._body) == self._length:
                self._finish()

    def _start(self, head: str) -> bool:
        """Read a head; False for an interim answer that has no body."""
        lines = head.split("\r\n")
        status_line = lines[0]
        if not status_line.startswith("HTTP/1.") or len(status_line) < 12:
            raise HttpError(f"not an HTTP/1.x answer: {status_line[:40]!r}")
        try:
            status = int(status_line[9:12])
        except ValueError:
            raise HttpError(f"no status in {status_line[:40]!r}") from None
        if 100 <= status < 200:
            return False
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise HttpError(f"not a header line: {line[:40]!r}")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep = "close" not in connection if status_line[7] == "1" else (
            "keep-alive" in connection)
        self._status = status
        self._in_body = True
        if status in (204, 304):
            self._length = 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in headers:
            try:
                self._length = int(headers["content-length"])
            except ValueError:
                raise HttpError("a Content-Length that is not a number") from None
            if not 0 <= self._length <= MAX_BODY_BYTES:
                raise HttpError(f"a body of {self._length} bytes")
        else:
            self._to_eof = True
            keep = False
        self.reusable = keep
        return True

    def _take(self, count: int) -> None:
        self._body += self._buffer[:count]
        del self._buffer[:count]
        if len(self._body) > MAX_BODY_BYTES:
            raise HttpError("the answer's body is too long")

    def _read_chunks(self) -> None:
        while True:
            line_end = self._buffer.find(b"\r\n")
            if line_end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    raise HttpError("a chunk's size line is too long")
                return
            size_text = bytes(self._buffer[:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpError(f"not a chunk size: {size_text[:20]!r}") from None
            if size == 0:
                # The last chunk, then trailers (ignored) up to an empty line.
                trailers_end = self._buffer.find(b"\r\n\r\n", line_end)
                if trailers_end < 0:
                    return
                del self._buffer[:trailers_end + 4]
                self._finish()
                return
            if len(self._buffer) < line_end + 2 + size + 2:
                return
            del self._buffer[:line_end + 2]
            self._take(size)
            if self._buffer[:2] != b"\r\n":
                raise HttpError("a chunk not followed by CRLF")
            del self._buffer[:2]

    def _finish(self) -> None:
        if self._buffer:
            self.reusable = False  # more than one answer to one request
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_result(Answer(self._status, bytes(self._body)))


class ConnectionPool:
    """Up to ``limit`` requests at a time to one origin, over kept connections."""

    def __init__(self, base_url: str, *, limit: int, timeout_s: float,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.origin = Origin.parse(base_url)
        self._timeout_s = timeout_s
        self._slots = asyncio.Semaphore(limit)
        self._idle: list[_Connection] = []
        self._ssl: ssl.SSLContext | None = None
        if self.origin.scheme == "https":
            self._ssl = ssl_context or ssl.create_default_context()
        self._closing = False

    async def request(self, method: str, target: str, headers: str,
                      body: bytes | None = None) -> Answer:
        """Send ``method target`` with ``headers`` (complete lines, each ending in CRLF,
        without Host and Content-Length) and ``body``; the whole answer."""
        if self._closing:
            raise HttpError("the connection pool is closed")
        origin = self.origin
        length = f"Content-Length: {len(body)}\r\n" if body is not None else ""
        request = (f"{method} {origin.base_path}{target} HTTP/1.1\r\n"
                   f"Host: {origin.host_header}\r\n{headers}{length}\r\n").encode("latin-1")
        if body:
            request += body
        async with asyncio.timeout(self._timeout_s), self._slots:
            connection = self._kept()
            if connection is None:
                return await self._exchange(await self._connect(), request)
            try:
                return await self._exchange(connection, request)
            except HttpError:
                if method not in _IDEMPOTENT or connection.got_bytes:
                    raise
            # A kept connection that the server had closed before answering anything:
            # once more on a new one.
            return await self._exchange(await self._connect(), request)

    async def _exchange(self, connection: _Connection, request: bytes) -> Answer:
        done = False
        try:
            answer = await connection.send(request)
            done = True
        finally:
            if done and connection.reusable and not self._closing:
                connection.idle_since = time.monotonic()
                self._idle.append(connection)
            else:
                connection.close()  # cut off mid-answer, or not to be reused
        return answer

    def _kept(self) -> _Connection | None:
        """The most recently used idle connection that is still open and fresh."""
        stale_before = time.monotonic() - IDLE_SECONDS
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and connection.idle_since > stale_before:
                return connection
            connection.close()
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        origin = self.origin
        _, connection = await loop.create_connection(
            _Connection, origin.host, origin.port, ssl=self._ssl,
            server_hostname=origin.host if self._ssl is not None else None)
        return connection

    async def close(self) -> None:
        self._closing = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
        await asyncio.sleep(0)  # let the transports close
