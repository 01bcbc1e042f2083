"""Who is staff: admins give and take the staff role in the bot, and see who has it.

The settings' lists (KASSA_STAFF_IDS, KASSA_ADMIN_IDS) stay in force beside what is granted
here: a grant cannot take away what the settings give, and the settings are changed where
they live. Every change is one transaction with its audit row, decided on the rows read in
it (booking.staff.require_role), so a passenger's forged button changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from enum import StrEnum

from booking import limits
from booking.clock import Clock, system_clock
from booking.model import Customer, Role
from booking.ports import UnitOfWorkFactory
from booking.staff import STAFF_ROLES, StaffActionKind, record, require_role
from booking.usecase import UseCases


class RoleOutcome(StrEnum):
    GRANTED = "granted"
    ALREADY_STAFF = "already_staff"  # granted before, or listed in the settings
    REVOKED = "revoked"
    NOT_GRANTED = "not_granted"  # nothing granted in the bot to take back
    KEPT_BY_SETTINGS = "kept_by_settings"  # the grant is gone, the settings' list remains
    ADMIN = "admin"  # an admin's rights are not changed from the bot


@dataclass(frozen=True, slots=True)
class RoleChange:
    outcome: RoleOutcome
    customer: Customer  # the person, as they are after the change


@dataclass(frozen=True, slots=True)
class StaffMember:
    customer: Customer
    listed: bool  # in the settings' lists (changed there, not in the bot)


class RoleService(UseCases):
    def __init__(self, uow: UnitOfWorkFactory, *, staff_ids: Collection[int] = (),
                 admin_ids: Collection[int] = (), clock: Clock = system_clock) -> None:
        super().__init__(uow, clock=clock)
        self._staff_ids = frozenset(staff_ids)
        self._admin_ids = frozenset(admin_ids)

    async def grant_staff(self, admin_id: int, user_id: int) -> RoleChange:
        """Make ``user_id`` staff (a person who has not written to the bot yet is recorded
        now, so the role is there when they do)."""
        return await self._change(admin_id, user_id, grant=True)

    async def revoke_staff(self, admin_id: int, user_id: int) -> RoleChange:
        return await self._change(admin_id, user_id, grant=False)

    async def staff(self, admin_id: int) -> list[StaffMember]:
        """Everyone with staff rights now, admins first."""
        async with self._uow() as uow:
            await require_role(uow, admin_id, admin=True)
            people = {c.id: c for c in await uow.customers.with_roles(STAFF_ROLES)}
            for user_id in self._staff_ids | self._admin_ids:
                if user_id not in people:  # listed, but has not written to the bot yet
                    people[user_id] = Customer.new(user_id)
        members = [StaffMember(self._in_force(c), c.id in self._listed) for c in people.values()]
        return sorted(members, key=lambda m: (-m.customer.role.rank, m.customer.id))

    async def settle_listed_roles(self) -> list[Customer]:
        """Bring the stored roles in line with the settings' lists as they are now (run at
        start-up, since the lists change only with a restart); the people whose role
        changed, and everyone with staff rights, for their menus."""
        async with self._uow(write=True) as uow:
            now = self.now()
            for user_id in self._listed:
                await uow.customers.add_if_missing(Customer.new(user_id), now)
            touched = []
            for customer in await uow.customers.with_roles(STAFF_ROLES):
                touched.append(customer)
            touched += [c for user_id in self._listed
                        if (c := await uow.customers.get(user_id)) is not None]
            settled: dict[int, Customer] = {}
            for customer in touched:
                current = self._in_force(customer)
                if current != customer:
                    await uow.customers.update(current)
                settled[current.id] = current
            await uow.commit()
        return sorted(settled.values(), key=lambda c: c.id)

    @property
    def _listed(self) -> frozenset[int]:
        return self._staff_ids | self._admin_ids

    def _in_force(self, customer: Customer) -> Customer:
        role = customer.role_with(is_staff=customer.id in self._staff_ids,
                                  is_admin=customer.id in self._admin_ids)
        return customer if role is customer.role else replace(customer, role=role)

    async def _change(self, admin_id: int, user_id: int, *, grant: bool) -> RoleChange:
        limits.customer_id(user_id, "user_id")

        async def attempt() -> RoleChange:
            async with self._uow(write=True) as uow:
                await require_role(uow, admin_id, admin=True)
                now = self.now()
                await uow.customers.add_if_missing(Customer.new(user_id), now)
                current = await uow.customers.get(user_id, lock=True)
                if current is None:  # inserted just above
                    raise RuntimeError(f"customer {user_id} vanished inside its transaction")
                current = self._in_force(current)
                outcome, granted = _decide(current, grant)
                if granted is None:
                    await uow.commit()  # keeps the row of a person recorded just now
                    return RoleChange(outcome, current)
                changed = current.with_grant(granted, is_staff=user_id in self._staff_ids,
                                             is_admin=user_id in self._admin_ids)
                await uow.customers.update(changed)
                kind = StaffActionKind.GRANT_ROLE if grant else StaffActionKind.REVOKE_ROLE
                await record(uow, admin_id, kind, user_id, now, role=changed.role.value)
                await uow.commit()
                if not grant and changed.role is not Role.PASSENGER:
                    outcome = RoleOutcome.KEPT_BY_SETTINGS
                return RoleChange(outcome, changed)

        return await self._retrying(attempt)


def _decide(customer: Customer, grant: bool) -> tuple[RoleOutcome, Role | None]:
    """What asking to grant (or revoke) staff does to ``customer``: the outcome, and the new
    granted role (None when nothing changes)."""
    if customer.role is Role.ADMIN:
        return RoleOutcome.ADMIN, None
    if grant:
        if customer.role is Role.STAFF:
            return RoleOutcome.ALREADY_STAFF, None
        return RoleOutcome.GRANTED, Role.STAFF
    if customer.granted is Role.PASSENGER:
        outcome = RoleOutcome.KEPT_BY_SETTINGS if customer.role is Role.STAFF \
            else RoleOutcome.NOT_GRANTED
        return outcome, None
    return RoleOutcome.REVOKED, Role.PASSENGER

