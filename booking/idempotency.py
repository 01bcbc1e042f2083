"""Idempotency keys of the HTTP API: the same POST sent again gets the first answer.

A client that lost an answer (a timeout, a dropped connection) sends the request again with
the same Idempotency-Key; the API answers with what it answered the first time instead of
doing it twice. The same key with another request is refused, since the client has mixed
up its keys. Keys live in the database (storage/idempotency.py), so every instance of the
API behind a load balancer sees them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

# A request still being answered after this long was cut off (its process died): its key
# may be taken over by a retry rather than blocking it for ever.
ABANDONED_AFTER = timedelta(minutes=1)
# How long an answer is kept for replay: longer than any client retries.
KEPT_FOR = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    fingerprint: str  # of the request that took the key
    status: int | None  # None while that request is being answered
    body: str | None


class IdempotencyStore(Protocol):
    async def reserve(self, key: str, fingerprint: str, now: datetime) -> StoredAnswer | None:
        """Take ``key`` for this request (None), or what is stored under it already. A key
        whose request was abandoned (ABANDONED_AFTER) is taken over."""
        ...

    async def complete(self, key: str, status: int, body: str, now: datetime) -> None:
        """Store the answer to the request that took ``key``."""
        ...

    async def release(self, key: str) -> None:
        """Give ``key`` up: its request failed without an answer worth replaying."""
        ...

    async def purge(self, before: datetime) -> int:
        """Forget keys taken before ``before``; how many."""
        ...


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests the same: method, path, query and the body's content (the
    same JSON with other spacing or key order is the same body)."""
    try:
        content = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"),
                             ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError):
        content = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), content):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()
