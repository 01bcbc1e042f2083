"""The garbage collector of a long-running server: told what lives for good, and run less.

A server process imports and builds much that lives until it stops (python-telegram-bot,
SQLAlchemy, pydantic models and the OpenAPI document, babel's locale data, the application
itself: ~160,000 objects); CPython's cyclic collector walks all of it again at each of its
oldest generation's collections (one took 93 ms under bench/api.py, every few seconds), and
starts a young collection every 700 net allocations, a few times in each handled update.
Measured with perf on a webhook instance under bench/conversation.py, the collector was
about a twelfth of the instance's CPU. Nearly everything an update makes is freed by reference
counting (the collector is only for cycles), so: what exists once the server has started
is moved out of the collector's sight (gc.freeze), and young collections come after more
allocations.
"""

from __future__ import annotations

import gc

# Net allocations of tracked objects before a young collection (CPython's default: 700).
# An update allocates a few thousand; cycles among them wait at most a few updates longer.
YOUNG_COLLECTION_AFTER = 20_000


def settle() -> None:
    """Call once the server is up: what is alive now is kept out of every collection."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_AFTER, middle, oldest)
