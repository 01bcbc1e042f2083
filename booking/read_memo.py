"""One update's reads, read once: the memo of a scope such as one bot update's turn.

Handling one update, the bot asks the same question more than once: it checks the chosen
trip, then renders the card, which shows the same trip again (and its seat map). Inside
``with read_memo():`` the use cases that opt in through ``remembered`` (booking/catalogue.py's
trip and seat map, booking/customers.py's customer, booking/orders.py's order, which the
order's view and the payment's checkout read) answer a repeated question from the first
answer, with no unit of work at all. So a card is never older than the update it answers,
and within the update everything it shows was read together.

Outside a scope nothing is memoised: the booking API, the jobs and the tests read as
before. A write ends what the scope knew: every writing unit of work calls
``forget_reads()`` when it opens and when it ends (storage/uow.py), so a cancellation, a
payment or a customer's change is followed by fresh reads, committed or not. The one
answer a write gives back is its own: a hold puts the order it wrote into the memo
(``remember``, booking/orders.py remember_order), so the held card and its Pay button
read nothing more. Reads made inside a writing unit of work (the hold's locked trip, its
taken seats) never come from here.

The scope is a contextvar, so concurrent updates (each its own task) never share one; a
task started inside a scope sees it, and sees it closed once the scope ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar, cast

T = TypeVar("T")


class ReadMemo:
    """What one scope has read, by question."""

    __slots__ = ("_answers", "open")

    def __init__(self) -> None:
        self._answers: dict[Hashable, Any] = {}
        self.open = True

    def get(self, question: Hashable) -> Any | None:
        return self._answers.get(question)

    def knows(self, question: Hashable) -> bool:
        """Whether ``question`` was answered in this scope (None is an answer too)."""
        return question in self._answers

    def put(self, question: Hashable, answer: Any) -> None:
        # A task started in the scope may still answer after it closed (and was emptied).
        if self.open:
            self._answers[question] = answer

    def forget(self) -> None:
        self._answers.clear()

    def close(self) -> None:
        self.open = False
        self._answers.clear()


_current: ContextVar[ReadMemo | None] = ContextVar("kassa_read_memo", default=None)


@contextmanager
def read_memo() -> Iterator[ReadMemo]:
    """A scope whose repeated reads answer from the first (one bot update's turn)."""
    memo = ReadMemo()
    token = _current.set(memo)
    try:
        yield memo
    finally:
        memo.close()
        _current.reset(token)


def current_memo() -> ReadMemo | None:
    """The open scope's memo, or None outside any scope."""
    memo = _current.get()
    return memo if memo is not None and memo.open else None


async def remembered(question: Hashable, read: Callable[[], Awaitable[T]]) -> T:
    """``read()``'s answer; inside a scope, the first answer to ``question`` there (an
    error is not an answer: it is raised, and the next asking reads again)."""
    memo = current_memo()
    if memo is None:
        return await read()
    if memo.knows(question):
        return cast(T, memo.get(question))
    answer = await read()
    memo.put(question, answer)
    return answer


def remember(question: Hashable, answer: Any) -> None:
    """What this scope now knows without reading: an answer a write has just made."""
    memo = current_memo()
    if memo is not None:
        memo.put(question, answer)


def forget_reads() -> None:
    """Something was (or may have been) written: later reads in this scope go to the
    database again."""
    memo = _current.get()
    if memo is not None:
        memo.forget()
