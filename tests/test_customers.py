"""Customers: the contact rules on their own, then the use cases on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.customers import MAX_SAVED_PASSENGERS, Customer, CustomerService, Role
from booking.errors import BookingError, ErrorCode
from storage import tables as t
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import FakeClock
from tests.factories import pax

ANNA = 5001
STAFF = 7001


# ---- the rules, no I/O ---------------------------------------------------------------------


def test_first_contact_takes_name_and_language_hint() -> None:
    customer = Customer.new(ANNA).on_contact("  Anna   Ivanova ", "ru", is_staff=False)
    assert customer == Customer(ANNA, "Anna Ivanova", "ru", Role.PASSENGER, False, ())


def test_contact_never_overwrites_a_language_already_set() -> None:
    customer = Customer.new(ANNA).with_language("zh").on_contact("Anna", "en", is_staff=False)
    assert customer.language == "zh"


def test_contact_ignores_a_language_hint_too_long_to_store() -> None:
    customer = Customer.new(ANNA).on_contact("Anna", "x-very-long-tag", is_staff=False)
    assert customer.language is None


def test_contact_with_empty_name_keeps_the_old_one() -> None:
    customer = Customer.new(ANNA).on_contact("Anna", None, is_staff=False)
    assert customer.on_contact("   ", None, is_staff=False).name == "Anna"


def test_contact_unblocks() -> None:
    customer = Customer.new(ANNA).with_blocked(True)
    assert customer.on_contact("Anna", None, is_staff=False).blocked is False


@pytest.mark.parametrize(
    ("granted", "is_staff", "is_admin", "expected"),
    [
        (Role.PASSENGER, True, False, Role.STAFF),
        (Role.PASSENGER, False, False, Role.PASSENGER),  # taken off the staff list
        (Role.PASSENGER, False, True, Role.ADMIN),
        (Role.STAFF, False, False, Role.STAFF),  # granted in the bot: the list cannot undo it
        (Role.STAFF, False, True, Role.ADMIN),
        (Role.ADMIN, False, False, Role.ADMIN),
    ],
)
def test_role_on_contact(granted: Role, is_staff: bool, is_admin: bool, expected: Role) -> None:
    for stored in Role:  # the role stored before does not matter: it is worked out again
        customer = Customer(ANNA, "Anna", None, stored, False, (), granted=granted)
        after = customer.on_contact("Anna", None, is_staff=is_staff, is_admin=is_admin)
        assert after.role is expected


def test_set_language_rejects_codes_that_cannot_be_stored() -> None:
    with pytest.raises(ValueError):
        Customer.new(ANNA).with_language("")
    with pytest.raises(ValueError):
        Customer.new(ANNA).with_language("much-too-long")


def test_passengers_most_recent_first_without_duplicates() -> None:
    customer = Customer.new(ANNA).with_passengers(["Ann Lee", "Bob Ray"])
    customer = customer.with_passengers(["Cy Dee", "ann  LEE"])
    # The latest spelling wins and moves to the front.
    assert customer.saved_passengers == ("Cy Dee", "ann LEE", "Bob Ray")


def test_passengers_ignores_blanks_and_trims_long_names() -> None:
    customer = Customer.new(ANNA).with_passengers(["", "   ", "x" * 150])
    assert customer.saved_passengers == ("x" * 100,)


def test_passengers_keeps_at_most_ten() -> None:
    customer = Customer.new(ANNA).with_passengers([f"P {pax(n)}" for n in range(8)])
    customer = customer.with_passengers([f"Q {pax(n)}" for n in range(5)])
    assert len(customer.saved_passengers) == MAX_SAVED_PASSENGERS
    assert customer.saved_passengers[:6] == (
        "Q Pax A", "Q Pax B", "Q Pax C", "Q Pax D", "Q Pax E", "P Pax A")
    assert customer.saved_passengers[-1] == "P Pax E"


# ---- the use cases on a real database --------------------------------------------------------


@pytest.fixture
def customers(uow_factory: SqlUnitOfWorkFactory, clock: FakeClock) -> CustomerService:
    """The customer service with one staff member configured."""
    return CustomerService(uow_factory, staff_ids={STAFF}, clock=clock)


async def count_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(t.customers))).scalar_one()


async def test_ensure_creates_on_first_contact(
    customers: CustomerService, engine: AsyncEngine, clock: FakeClock
) -> None:
    assert await customers.customer(ANNA) is None
    created = await customers.ensure(ANNA, "Anna", "ru")
    assert created == Customer(ANNA, "Anna", "ru", Role.PASSENGER, False, ())
    assert await customers.customer(ANNA) == created
    async with engine.connect() as conn:
        row = (await conn.execute(select(t.customers))).one()
    assert row.created_at == clock.now


async def test_ensure_updates_name_but_not_a_chosen_language(customers: CustomerService) -> None:
    await customers.ensure(ANNA, "Anna", "en")
    await customers.set_language(ANNA, "zh")
    again = await customers.ensure(ANNA, "Anna Lee", "en")
    assert (again.name, again.language) == ("Anna Lee", "zh")
    assert await customers.customer(ANNA) == again


async def test_ensure_without_language_leaves_it_unset(customers: CustomerService) -> None:
    assert (await customers.ensure(ANNA, "Anna")).language is None
    assert (await customers.ensure(ANNA, "Anna", "en")).language == "en"


async def test_ensure_gives_staff_their_role(customers: CustomerService) -> None:
    assert (await customers.ensure(STAFF, "Sam")).role is Role.STAFF
    assert (await customers.ensure(ANNA, "Anna")).role is Role.PASSENGER


async def test_staff_list_is_what_counts_and_a_granted_admin_stays_admin(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    before = CustomerService(uow_factory, staff_ids=[STAFF, ANNA])
    await before.ensure(STAFF, "Sam")
    await before.ensure(ANNA, "Anna")
    async with engine.begin() as conn:  # an admin made by hand (as migration 0009 keeps them)
        await conn.execute(
            t.customers.update().where(t.customers.c.id == ANNA).values(granted_role="admin")
        )
    after = CustomerService(uow_factory, staff_ids=[])
    assert (await after.ensure(STAFF, "Sam")).role is Role.PASSENGER
    assert (await after.ensure(ANNA, "Anna")).role is Role.ADMIN


async def test_ensure_of_an_unchanged_customer_writes_nothing(
    customers: CustomerService, engine: AsyncEngine
) -> None:
    first = await customers.ensure(ANNA, "Anna", "en")
    async with engine.begin() as conn:  # a change behind the service's back stays put
        await conn.execute(
            t.customers.update().where(t.customers.c.id == ANNA).values(saved_passengers=["X"])
        )
    assert await customers.ensure(ANNA, "Anna", "en") == replace(first, saved_passengers=("X",))


async def test_first_messages_of_a_new_user_at_once_make_one_row(
    customers: CustomerService, engine: AsyncEngine
) -> None:
    results = await asyncio.gather(
        *(customers.ensure(ANNA, "Anna", "en") for _ in range(8)),
        customers.remember_passengers(ANNA, ["Ann Lee"]),
        customers.set_language(ANNA, "zh"),
    )
    assert all(r.id == ANNA for r in results)
    assert await count_rows(engine) == 1
    final = await customers.customer(ANNA)
    assert final is not None
    # Every change landed; none was lost to another writer's stale copy.
    assert (final.name, final.language, final.saved_passengers) == ("Anna", "zh", ("Ann Lee",))


async def test_set_language(customers: CustomerService) -> None:
    await customers.ensure(ANNA, "Anna", "en")
    assert (await customers.set_language(ANNA, "ru")).language == "ru"
    assert (await customers.customer(ANNA)).language == "ru"  # type: ignore[union-attr]
    with pytest.raises(BookingError) as refused:
        await customers.set_language(ANNA, "not-a-language")
    assert refused.value.code is ErrorCode.BAD_TEXT


async def test_set_language_for_someone_not_seen_yet_creates_them(
    customers: CustomerService,
) -> None:
    customer = await customers.set_language(ANNA, "zh")
    assert customer == Customer(ANNA, "", "zh", Role.PASSENGER, False, ())
    assert await customers.customer(ANNA) == customer


async def test_remember_passengers_round_trip(customers: CustomerService) -> None:
    await customers.ensure(ANNA, "Anna")
    await customers.remember_passengers(ANNA, ["Ann Lee", "Bob Ray"])
    stored = await customers.remember_passengers(ANNA, ("Cy Dee", "ANN LEE"))
    assert stored.saved_passengers == ("Cy Dee", "ANN LEE", "Bob Ray")
    assert await customers.customer(ANNA) == stored


async def test_set_blocked_and_contact_unblocks(customers: CustomerService) -> None:
    await customers.ensure(ANNA, "Anna")
    await customers.set_blocked(ANNA, True)
    assert (await customers.customer(ANNA)).blocked is True  # type: ignore[union-attr]
    assert (await customers.ensure(ANNA, "Anna")).blocked is False
    assert (await customers.customer(ANNA)).blocked is False  # type: ignore[union-attr]


async def test_telegram_ids_beyond_32_bits(customers: CustomerService) -> None:
    big = 2**40 + 7
    assert (await customers.ensure(big, "Big")).id == big
    assert await customers.customer(big) is not None



async def test_add_if_missing_says_whether_it_inserted(
    uow_factory: SqlUnitOfWorkFactory, clock: FakeClock
) -> None:
    async with uow_factory(write=True) as uow:
        assert await uow.customers.add_if_missing(Customer.new(ANNA), clock.now) is True
        assert await uow.customers.add_if_missing(Customer.new(ANNA), clock.now) is False
        await uow.commit()


async def test_set_blocked_for_someone_not_seen_yet_records_it(customers: CustomerService) -> None:
    await customers.set_blocked(ANNA, False)
    assert await customers.customer(ANNA) == Customer.new(ANNA)
