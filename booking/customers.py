"""Customers: the people who talk to the bot, their language, role and saved passengers.

A customer is known by their Telegram user id and is created on first contact. The rules
for what a contact changes live on ``Customer`` so they can be tested with no I/O; the
service only loads, applies them and saves.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime

from booking import limits
from booking.clock import system_clock
from booking.model import (
    MAX_CUSTOMER_NAME_LENGTH,
    MAX_LANGUAGE_LENGTH,
    MAX_SAVED_PASSENGERS,
    Customer,
    Role,
    check_language,
)
from booking.outbox import Undeliverable
from booking.ports import OutboxMessage, UnitOfWork, UnitOfWorkFactory
from booking.read_memo import remembered

__all__ = [
    "MAX_CUSTOMER_NAME_LENGTH",
    "MAX_LANGUAGE_LENGTH",
    "MAX_SAVED_PASSENGERS",
    "Customer",
    "CustomerService",
    "Role",
]


class CustomerService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        staff_ids: Collection[int] = (),
        admin_ids: Collection[int] = (),
        clock: Callable[[], datetime] = system_clock,
    ) -> None:
        self._uow = uow
        self._staff_ids = frozenset(staff_ids)
        self._admin_ids = frozenset(admin_ids)
        self._clock = clock

    async def customer(self, user_id: int) -> Customer | None:
        """The customer (None before their first contact); asked again within one update's
        read memo (booking/read_memo.py), the first answer."""
        limits.customer_id(user_id, "user_id")
        return await remembered(("customer", user_id), lambda: self._read(user_id))

    async def _read(self, user_id: int) -> Customer | None:
        async with self._uow() as uow:
            return await uow.customers.get(user_id)

    async def role(self, user_id: int) -> Role:
        """The person's role now, read afresh for every staff action: the staff list of the
        configuration applies at once, so someone taken off it loses their rights at once."""
        limits.customer_id(user_id, "user_id")
        customer = await self._read(user_id) or Customer.new(user_id)
        return customer.role_with(is_staff=user_id in self._staff_ids,
                                  is_admin=user_id in self._admin_ids)

    async def ensure(self, user_id: int, name: str, language: str | None = None) -> Customer:
        """The customer, created on first contact and brought up to date on later ones.

        The name and the language are Telegram's: what no column can hold is dropped
        from them (Customer.on_contact), never a reason to refuse the person.
        """
        limits.customer_id(user_id, "user_id")
        is_staff, is_admin = user_id in self._staff_ids, user_id in self._admin_ids
        # Called on every update: when nothing changes, a read is all it costs.
        current = await self.customer(user_id)
        if current is not None:
            updated = current.on_contact(name, language, is_staff=is_staff, is_admin=is_admin)
            if updated == current:
                return current
        return await self._change(
            user_id,
            lambda c: c.on_contact(name, language, is_staff=is_staff, is_admin=is_admin),
            new=current is None,
        )

    async def set_language(self, user_id: int, language: str) -> Customer:
        limits.customer_id(user_id, "user_id")
        limits.text(language, "language", limits.LANGUAGE_LENGTH)
        check_language(language)
        return await self._change(user_id, lambda c: c.with_language(language))

    async def remember_passengers(self, user_id: int, names: Sequence[str]) -> Customer:
        """Put ``names`` at the front of the customer's saved passengers."""
        limits.customer_id(user_id, "user_id")
        names = list(names)  # a generator would be used up by the first attempt
        return await self._change(user_id, lambda c: c.with_passengers(names))

    async def deliver_saved_passengers(self, message: OutboxMessage) -> None:
        """The outbox's delivery of a hold's names: remember them for the next booking."""
        if message.recipient is None:
            raise Undeliverable("saved passengers without a customer")
        names = message.payload.get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise Undeliverable(f"saved passengers payload is not a list of names: {names!r}")
        await self.remember_passengers(message.recipient, names)

    async def set_blocked(self, user_id: int, blocked: bool) -> None:
        """Record that the person blocked (or unblocked) the bot."""
        limits.customer_id(user_id, "user_id")
        await self._change(user_id, lambda c: c.with_blocked(blocked))

    async def _change(self, user_id: int, change: Callable[[Customer], Customer], *,
                      new: bool = False) -> Customer:
        """Apply ``change`` to the customer (made first if new) in one transaction.

        A customer not there yet is inserted already changed ("on conflict do nothing"),
        and one that is there is read locked, so two first messages of a new user arriving
        at once both succeed and one row results. ``new`` (the caller just found no
        customer) tries the insert first, on its own: a first contact is then one
        statement, and one that lost the race to another changes nothing there and goes on
        as for a customer who was there.
        """

        async def add_first(uow: UnitOfWork) -> Customer | None:
            first = change(Customer.new(user_id))
            if not await uow.customers.add_if_missing(first, self._clock()):
                return None  # there is one now
            await uow.commit()
            return first

        if new:
            async with self._uow(write=True, one_statement=True) as uow:
                if (added := await add_first(uow)) is not None:
                    return added
        async with self._uow(write=True) as uow:
            current = await uow.customers.get(user_id, lock=True)
            if current is None:
                if (added := await add_first(uow)) is not None:
                    return added
                current = await uow.customers.get(user_id, lock=True)
            if current is None:  # the insert above makes this impossible
                raise RuntimeError(f"customer {user_id} vanished inside its transaction")
            updated = change(current)
            if updated != current:
                await uow.customers.update(updated)
                await uow.commit()
        return updated
