"""The booking flow's state: named conversation states and the JSON-friendly flow record.

The record lives in user_data["flow"] (persisted as JSON): only strings, numbers and lists.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers.callback_data import new_flow_id
from handlers.context import KassaContext

ORIGIN, DESTINATION, DATE, TRIPS, COUNT, SEATS, NAMES, SUMMARY, HELD = range(9)
STATE_NAMES = ("origin", "destination", "date", "trips", "count", "seats", "names",
               "summary", "held")

# Where "Back" leads from each step.
PREVIOUS = {DESTINATION: ORIGIN, DATE: DESTINATION, TRIPS: DATE, COUNT: TRIPS, SEATS: COUNT,
            NAMES: SEATS, SUMMARY: NAMES}

Flow = dict[str, Any]


def start_flow(context: KassaContext) -> Flow:
    """A fresh booking attempt with a new id; buttons of the previous one become stale."""
    flow: Flow = {"id": new_flow_id(), "state": ORIGIN, "card": None, "seats": [], "names": []}
    user_data = context.user_data
    assert user_data is not None
    user_data["flow"] = flow
    return flow


def current_flow(context: KassaContext) -> Flow | None:
    user_data = context.user_data
    flow = user_data.get("flow") if user_data is not None else None
    return flow if isinstance(flow, dict) and "id" in flow else None


def flow_day(flow: Flow) -> date:
    return date.fromisoformat(flow["day"])


def forget_from(flow: Flow, state: int) -> None:
    """Drop what was chosen at ``state`` and later, since an earlier choice changed."""
    keys_by_state = {
        DESTINATION: ("destination",),
        DATE: ("day", "month"),
        TRIPS: ("trip", "page", "trip_info"),
        COUNT: ("count",),
        SEATS: ("seats",),
        NAMES: ("names",),
    }
    for step, keys in keys_by_state.items():
        if step >= state:
            for key in keys:
                flow.pop(key, None)
    flow.setdefault("seats", [])
    flow.setdefault("names", [])
