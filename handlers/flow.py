"""The booking flow: which step a passenger is on and what they answered, as one typed record.

The record is the one source of the step (no ConversationHandler keeps a second copy), and it
lives in user_data["flow"] as plain JSON, which the bot's persistence writes after every
update and reads back for every update: a passenger continues after a restart, on any
instance sharing the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from enum import IntEnum
from typing import Any

from handlers.callback_data import new_flow_id
from handlers.context import KassaContext

FLOW_KEY = "flow"


class Step(IntEnum):
    ORIGIN = 0
    DESTINATION = 1
    DATE = 2
    TRIPS = 3
    COUNT = 4
    SEATS = 5
    NAMES = 6
    SUMMARY = 7
    HELD = 8


# Where "Back" leads from each step.
PREVIOUS = {
    Step.DESTINATION: Step.ORIGIN, Step.DATE: Step.DESTINATION, Step.TRIPS: Step.DATE,
    Step.COUNT: Step.TRIPS, Step.SEATS: Step.COUNT, Step.NAMES: Step.SEATS,
    Step.SUMMARY: Step.NAMES,
}


@dataclass
class Flow:
    """One booking attempt. Its id is in every button of its cards, so a button of an older
    attempt is recognised as stale; it is also the hold's request key, so a second press of
    Confirm books nothing new."""

    id: str
    step: Step = Step.ORIGIN
    card: int | None = None  # the message id of the card the buttons must come from
    paused: bool = False  # left for the menu (/start, /mytickets...): typed text is not for it
    origin: str | None = None
    destination: str | None = None
    day: date | None = None
    month: date | None = None  # the month the calendar shows
    page: int = 0  # of the day's trips
    trip: int | None = None
    want: int | None = None  # passengers asked for in a one-line request
    count: int | None = None
    seats: list[str] = field(default_factory=list)  # empty: "any seats" or not chosen yet
    any_seats: bool = False
    names: list[str] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)  # saved passengers offered as buttons
    choices: list[str] = field(default_factory=list)  # stations a typed name may mean
    order: str | None = None

    @classmethod
    def new(cls) -> Flow:
        return cls(id=new_flow_id())

    # ---- the record as JSON -----------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        # Field by field, lists copied: dataclasses.asdict deep-copies recursively, a
        # fifth of a millisecond for every update that saves its flow.
        data = {name: getattr(self, name) for name in _FIELDS}
        for name in _LISTS:
            data[name] = list(data[name])
        data["step"] = int(self.step)
        data["day"] = self.day.isoformat() if self.day else None
        data["month"] = self.month.isoformat() if self.month else None
        return data

    @classmethod
    def from_data(cls, data: object) -> Flow | None:
        """The flow stored in ``data``; None for anything that is not one (a record from an
        older version, say), which is no worse than a booking not begun."""
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            return None
        values = {k: v for k, v in data.items() if k in _FIELDS}
        try:
            flow = cls(**values)
            flow.step = Step(int(flow.step))
            flow.day = date.fromisoformat(data["day"]) if data.get("day") else None
            flow.month = date.fromisoformat(data["month"]) if data.get("month") else None
        except (TypeError, ValueError):
            return None
        return flow

    # ---- answers ------------------------------------------------------------------------

    @property
    def in_progress(self) -> bool:
        """Still being filled in (not yet held)."""
        return self.step is not Step.HELD

    def forget_from(self, step: Step) -> None:
        """Drop the answers of ``step`` and the later ones that depend on them, since an
        earlier answer changed. Who travels (how many, their names) depends on no other
        answer: it stays for the new trip, trimmed to the count when that changes."""
        if step <= Step.DESTINATION:
            self.destination = None
        if step <= Step.DATE:
            self.day = self.month = None
        if step <= Step.TRIPS:
            self.trip = None
            self.page = 0
        if step <= Step.SEATS:
            self.seats = []
            self.any_seats = False

    def next_step(self) -> Step:
        """The first step still to answer, for a booking begun with some answers given
        (a one-line request); the later steps' answers are asked in order."""
        if self.origin is None:
            return Step.ORIGIN
        if self.destination is None:
            return Step.DESTINATION
        if self.day is None:
            return Step.DATE
        return Step.TRIPS

    @property
    def seats_complete(self) -> bool:
        return self.any_seats or (self.count is not None and len(self.seats) == self.count)

    @property
    def names_complete(self) -> bool:
        return self.count is not None and len(self.names) >= self.count


def load_flow(context: KassaContext) -> Flow | None:
    data = context.user_data.get(FLOW_KEY) if context.user_data is not None else None
    return Flow.from_data(data)


def save_flow(context: KassaContext, flow: Flow | None) -> None:
    """Store the flow (None forgets it); persistence writes user_data after the update."""
    if context.user_data is None:
        return
    if flow is None:
        context.user_data.pop(FLOW_KEY, None)
    else:
        context.user_data[FLOW_KEY] = flow.to_data()


_FIELDS = tuple(f.name for f in fields(Flow))
_LISTS = tuple(name for name in _FIELDS if isinstance(getattr(Flow.new(), name), list))
