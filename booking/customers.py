"""Customers: the people who talk to the bot, their language, role and saved passengers.

A customer is known by their Telegram user id and is created on first contact. The rules
for what a contact changes live on ``Customer`` so they can be tested with no I/O; the
service only loads, applies them and saves.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from booking.ports import UnitOfWorkFactory
from booking.service import MAX_NAME_LENGTH, system_clock

MAX_SAVED_PASSENGERS = 10
MAX_CUSTOMER_NAME_LENGTH = 200  # customers.name is a String(200)
MAX_LANGUAGE_LENGTH = 8  # customers.language is a String(8)


class Role(StrEnum):
    PASSENGER = "passenger"
    STAFF = "staff"
    ADMIN = "admin"


def _squash(text: str) -> str:
    """Collapse runs of whitespace, so "Ann  Lee " and "Ann Lee" are one name."""
    return " ".join(text.split())


def _check_language(language: str) -> str:
    if not language or len(language) > MAX_LANGUAGE_LENGTH:
        raise ValueError(f"bad language code {language!r}")
    return language


@dataclass(frozen=True)
class Customer:
    id: int  # the Telegram user id
    name: str
    language: str | None  # None until the person chooses or Telegram tells us one
    role: Role
    blocked: bool  # the person has blocked the bot, so messages to them fail
    saved_passengers: tuple[str, ...]  # most recently used first

    @classmethod
    def new(cls, user_id: int) -> Customer:
        return cls(user_id, "", None, Role.PASSENGER, False, ())

    def on_contact(self, name: str, language: str | None, *, is_staff: bool) -> Customer:
        """The customer after they wrote to the bot.

        The name follows the Telegram profile. A language already set is kept, since it is
        either the person's own choice or the first guess they did not correct. Staff are
        whoever the configuration lists now, so taking someone off the list takes their
        rights away; an admin stays an admin. Someone writing to us has not blocked us.
        """
        name = _squash(name)[:MAX_CUSTOMER_NAME_LENGTH] or self.name
        # The language given here is only a hint (Telegram's); one too long to store is
        # dropped rather than refusing the person's message.
        hint_fits = language is not None and 0 < len(language) <= MAX_LANGUAGE_LENGTH
        if self.language is not None or not hint_fits:
            language = self.language
        role = self.role
        if role is not Role.ADMIN:
            role = Role.STAFF if is_staff else Role.PASSENGER
        return replace(self, name=name, language=language, role=role, blocked=False)

    def with_language(self, language: str) -> Customer:
        return replace(self, language=_check_language(language))

    def with_passengers(self, names: Sequence[str]) -> Customer:
        """Remember ``names`` as the latest passengers, ahead of the older ones.

        Names differing only in case or spacing are one person; the latest spelling wins.
        """
        kept: dict[str, str] = {}
        for raw in [*names, *self.saved_passengers]:
            name = _squash(raw)[:MAX_NAME_LENGTH]  # what a hold accepts
            if name:
                kept.setdefault(name.casefold(), name)
        return replace(self, saved_passengers=tuple(kept.values())[:MAX_SAVED_PASSENGERS])

    def with_blocked(self, blocked: bool) -> Customer:
        return replace(self, blocked=blocked)


class CustomerService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        staff_ids: Collection[int] = (),
        clock: Callable[[], datetime] = system_clock,
    ) -> None:
        self._uow = uow
        self._staff_ids = frozenset(staff_ids)
        self._clock = clock

    async def get(self, user_id: int) -> Customer | None:
        async with self._uow() as uow:
            return await uow.customers.get(user_id)

    async def ensure(self, user_id: int, name: str, language: str | None = None) -> Customer:
        """The customer, created on first contact and brought up to date on later ones."""
        is_staff = user_id in self._staff_ids
        # Called on every update: when nothing changes, a read is all it costs.
        current = await self.get(user_id)
        if current is not None:
            updated = current.on_contact(name, language, is_staff=is_staff)
            if updated == current:
                return current
        return await self._change(
            user_id, lambda c: c.on_contact(name, language, is_staff=is_staff)
        )

    async def set_language(self, user_id: int, language: str) -> Customer:
        _check_language(language)
        return await self._change(user_id, lambda c: c.with_language(language))

    async def remember_passengers(self, user_id: int, names: Sequence[str]) -> Customer:
        """Put ``names`` at the front of the customer's saved passengers."""
        names = list(names)  # a generator would be used up by the first attempt
        return await self._change(user_id, lambda c: c.with_passengers(names))

    async def set_blocked(self, user_id: int, blocked: bool) -> None:
        """Record that the person blocked (or unblocked) the bot."""
        await self._change(user_id, lambda c: c.with_blocked(blocked))

    async def _change(self, user_id: int, change: Callable[[Customer], Customer]) -> Customer:
        """Apply ``change`` to the customer (made first if new) in one transaction.

        The row is inserted if missing and then read locked, so two first messages of a
        new user arriving at once both succeed and one row results.
        """
        async with self._uow(write=True) as uow:
            created = await uow.customers.add_if_missing(Customer.new(user_id), self._clock())
            current = await uow.customers.get(user_id, lock=True)
            if current is None:  # the insert above makes this impossible
                raise RuntimeError(f"customer {user_id} vanished inside its transaction")
            updated = change(current)
            if updated != current:
                await uow.customers.update(updated)
            if created or updated != current:
                await uow.commit()
        return updated
