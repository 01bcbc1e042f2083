"""Staff broadcasts: a message to the passengers of a trip, of a route's coming trips, of a
day, or to everyone who used the bot; previewed (how many it reaches) and then written, in
one transaction, as one broadcasts row, one outbox row per recipient and the audit row.
The outbox worker delivers them within Telegram's limits; progress is read from the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from booking.broadcast_text import check_broadcast_text
from booking.errors import BookingError, ErrorCode
from booking.outbox import MessageKind
from booking.ports import OutboxMessage, UnitOfWork
from booking.staff import StaffActionKind, record, require_role
from booking.usecase import UseCases


class AudienceKind(StrEnum):
    TRIP = "trip"  # paid tickets and live holds on one trip
    ROUTE = "route"  # ... on the coming trips of the trip's route
    DAY = "day"  # ... on every trip of one service day
    EVERYONE = "everyone"  # every customer who has not blocked the bot


@dataclass(frozen=True, slots=True)
class Audience:
    kind: AudienceKind
    trip_id: int | None = None  # TRIP and ROUTE
    day: date | None = None  # DAY

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "trip_id": self.trip_id,
                "day": self.day.isoformat() if self.day else None}

    @classmethod
    def from_json(cls, data: object) -> Audience | None:
        """The audience kept in a staff step, or None if it is not one (an old step)."""
        if not isinstance(data, dict):
            return None
        try:
            kind = AudienceKind(str(data.get("kind")))
            trip = data.get("trip_id")
            day = data.get("day")
            return cls(kind, int(trip) if trip is not None else None,
                       date.fromisoformat(str(day)) if day else None)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class BroadcastStarted:
    broadcast_id: int
    total: int


@dataclass(frozen=True, slots=True)
class BroadcastProgress:
    total: int
    sent: int
    failed: int
    blocked: int

    @property
    def done(self) -> bool:
        return self.sent + self.failed + self.blocked >= self.total


class BroadcastService(UseCases):
    def check_text(self, text: str) -> str:
        return check_broadcast_text(text)

    async def preview(self, staff_id: int, audience: Audience) -> int:
        """How many people the broadcast would reach now."""
        async with self._uow() as uow:
            await require_role(uow, staff_id)
            return len(await self._recipients(uow, audience, self.now()))

    async def send(self, staff_id: int, audience: Audience, text: str) -> BroadcastStarted:
        """Write the broadcast: every recipient's outbox row and the audit row, or nothing."""
        text = check_broadcast_text(text)

        async def attempt() -> BroadcastStarted:
            async with self._uow(write=True) as uow:
                await require_role(uow, staff_id)
                now = self.now()
                recipients = sorted(await self._recipients(uow, audience, now))
                if not recipients:
                    raise BookingError(ErrorCode.BROADCAST_NOBODY)
                broadcast_id = await uow.staff_actions.new_broadcast(
                    staff_id, audience.to_json(), text, len(recipients), now)
                await uow.outbox.add_many([
                    OutboxMessage(MessageKind.BROADCAST.value, recipient,
                                  {"broadcast_id": broadcast_id, "text": text}, now,
                                  dedupe_key=f"broadcast:{broadcast_id}:{recipient}",
                                  broadcast_id=broadcast_id)
                    for recipient in recipients], now)
                await record(uow, staff_id, StaffActionKind.BROADCAST, broadcast_id, now,
                             audience=audience.to_json(), recipients=len(recipients))
                await uow.commit()
                return BroadcastStarted(broadcast_id, len(recipients))

        return await self._retrying(attempt)

    async def progress(self, staff_id: int, broadcast_id: int, total: int) -> BroadcastProgress:
        async with self._uow() as uow:
            await require_role(uow, staff_id)
            counts = await uow.outbox.progress(broadcast_id)
        return BroadcastProgress(total, counts.get("sent", 0), counts.get("failed", 0),
                                 counts.get("blocked", 0))

    async def _recipients(self, uow: UnitOfWork, audience: Audience, now: datetime
                          ) -> set[int]:
        if audience.kind is AudienceKind.EVERYONE:
            return set(await uow.customers.reachable())
        if audience.kind is AudienceKind.DAY:
            if audience.day is None:
                raise BookingError(ErrorCode.UNKNOWN_TRIP)
            found = await uow.orders.passengers(now, first_day=audience.day,
                                                last_day=audience.day)
        else:
            trip = await uow.catalog.trip(audience.trip_id or 0)
            if trip is None:
                raise BookingError(ErrorCode.UNKNOWN_TRIP)
            if audience.kind is AudienceKind.TRIP:
                found = await uow.orders.passengers(now, trip_id=trip.id)
            else:  # the route's trips from this one's day on
                found = await uow.orders.passengers(now, route_id=trip.route_id,
                                                    first_day=trip.service_date)
        return found - await uow.customers.blocked_among(found)
