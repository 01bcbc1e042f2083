"""What every staff use case shares: the role check inside the transaction, and the audit row.

Handlers check the role too (to answer a passenger at once), but the decision is made here,
on the customer row read in the transaction that acts, so a role taken away a moment ago
is taken away for this action as well.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from booking.errors import BookingError, ErrorCode
from booking.model import Customer, Role
from booking.ports import StaffAction, UnitOfWork

STAFF_ROLES = frozenset({Role.STAFF, Role.ADMIN})


class StaffActionKind(StrEnum):
    DELAY_TRIP = "delay_trip"
    CANCEL_TRIP = "cancel_trip"
    BROADCAST = "broadcast"
    GRANT_ROLE = "grant_role"
    REVOKE_ROLE = "revoke_role"
    CHECK_IN = "check_in"
    MANIFEST = "manifest"


async def require_role(uow: UnitOfWork, staff_id: int, *, admin: bool = False) -> Customer:
    """The acting customer if they are staff (an admin, when ``admin``); else NOT_STAFF
    (NOT_ADMIN for staff asking for an admin's action)."""
    customer = await uow.customers.get(staff_id)
    if customer is None or customer.role not in STAFF_ROLES:
        raise BookingError(ErrorCode.NOT_STAFF)
    if admin and customer.role is not Role.ADMIN:
        raise BookingError(ErrorCode.NOT_ADMIN)
    return customer


async def record(uow: UnitOfWork, staff_id: int, action: StaffActionKind, target: object,
                 at: datetime, **detail: Any) -> None:
    """Write the audit row of a staff action in the action's own transaction."""
    await uow.staff_actions.add(StaffAction(staff_id, action.value, str(target), detail, at))
