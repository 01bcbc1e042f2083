"""The compact callback_data scheme (Telegram allows 64 bytes).

Booking card buttons: ``b:<flow id>:<action>[:<argument>]``. The flow id names one booking
attempt, so a button from an earlier attempt (or an older card) is recognised as stale.
Other buttons: ``m:<menu item>``, ``t:<action>:<order id>``, ``l:<language>``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

MAX_CALLBACK_BYTES = 64

BOOKING = "b"
MENU = "m"
TICKETS = "t"
LANGUAGE = "l"
PAY = "p"
ALTERNATIVE = "a"


def new_flow_id() -> str:
    return secrets.token_hex(3)


@dataclass(frozen=True, slots=True)
class FlowButton:
    flow: str
    action: str
    argument: str


def booking(flow: str, action: str, argument: str | int = "") -> str:
    data = f"{BOOKING}:{flow}:{action}:{argument}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def parse_booking(data: str | None) -> FlowButton | None:
    """The parts of a booking button's data, or None if it is not one."""
    parts = (data or "").split(":", 3)
    if len(parts) != 4 or parts[0] != BOOKING:
        return None
    return FlowButton(parts[1], parts[2], parts[3])


def action_pattern(*actions: str) -> str:
    """A regex for booking buttons with one of ``actions``, whatever their flow."""
    return rf"^{BOOKING}:[0-9a-f]+:({'|'.join(actions)}):"


def menu(item: str) -> str:
    return f"{MENU}:{item}"


def tickets(action: str, order_id: str = "") -> str:
    return f"{TICKETS}:{action}:{order_id}"


def ticket_order_id(data: str | None) -> str:
    """The order id a my-tickets button carries ("" when it carries none)."""
    parts = (data or "").split(":")
    return parts[2] if len(parts) > 2 else ""


# The confirmation of a cancellation carries what the person was shown it would do:
# ``t:y:<order id>:h`` releases a hold, ``t:y:<order id>:<minor units>`` refunds that much
# (older buttons, ``t:y:<order id>``, carry nothing).
RELEASE_QUOTED = "h"


def cancel_confirmed(order_id: str, refund: int | None) -> str:
    """Yes to cancelling: a hold's release (``refund`` None), or a refund of ``refund``."""
    return f"{TICKETS}:y:{order_id}:{RELEASE_QUOTED if refund is None else refund}"


def quoted(data: str | None) -> tuple[bool, int | None]:
    """What a confirmation was shown: (a hold's release, the refund), (False, None) if
    the button carries nothing."""
    parts = (data or "").split(":")
    shown = parts[3] if len(parts) > 3 else ""
    if shown == RELEASE_QUOTED:
        return True, None
    return False, int(shown) if shown.isdigit() and len(shown) < 19 else None


def language(code: str) -> str:
    return f"{LANGUAGE}:{code}"


def pay(order_id: str) -> str:
    return f"{PAY}:{order_id}"


def paid_order_id(data: str | None) -> str:
    """The order a Pay button carries ("" when it carries none)."""
    return (data or "").partition(":")[2]


def alternative(order_id: str, trip_id: int) -> str:
    """Book the trip instead of the order's, for the same stretch and passengers."""
    return f"{ALTERNATIVE}:{order_id}:{trip_id}"


def parse_alternative(data: str | None) -> tuple[str, int] | None:
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[0] != ALTERNATIVE or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


# ---- staff ----------------------------------------------------------------------------------
# The trip picker, ``s:<level>:<purpose>:...``: ``w:<purpose>:<yyyymmdd>`` a week of days from
# that day, ``d:<purpose>:<yyyymmdd>:<page>`` the routes running that day,
# ``r:<purpose>:<yyyymmdd>:<route id>:<page>`` that route's trips that day, ``t:<purpose>:<trip
# id>:<yyyymmdd>:<page>`` the trip, picked from that page of its route's trips that day (the
# way back; older buttons say ``t:<purpose>:<trip id>`` only). Other staff dialogues use their
# own prefixes: delay "sd", cancel "sc", broadcast "sb", roles "sr", stats "ss", manifest "sm".
STAFF_PICK = "s"


@dataclass(frozen=True, slots=True)
class StaffPick:
    level: str  # "w" week, "d" day, "r" route, "t" trip
    purpose: str
    day: str = ""  # yyyymmdd ("" for a trip from an older button)
    number: int = 0  # the route id, or the trip id
    page: int = 0  # of the routes, of the trips; for a trip, the page it was picked from


def staff_week(purpose: str, day: str) -> str:
    return _staff(f"w:{purpose}:{day}")


def staff_day(purpose: str, day: str, page: int = 0) -> str:
    return _staff(f"d:{purpose}:{day}:{page}")


def staff_route(purpose: str, day: str, route_id: int, page: int = 0) -> str:
    return _staff(f"r:{purpose}:{day}:{route_id}:{page}")


def staff_trip(purpose: str, trip_id: int, day: str = "", page: int = 0) -> str:
    return _staff(f"t:{purpose}:{trip_id}:{day}:{page}" if day else f"t:{purpose}:{trip_id}")


def _staff(rest: str) -> str:
    data = f"{STAFF_PICK}:{rest}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def parse_staff_pick(data: str | None) -> StaffPick | None:
    """The parts of a picker button's data, or None if it is not one we make."""
    parts = (data or "").split(":")
    if len(parts) < 4 or parts[0] != STAFF_PICK or not parts[2]:
        return None
    level, purpose, rest = parts[1], parts[2], parts[3:]
    if not all(part.isdigit() and len(part) <= 12 for part in rest):
        return None
    numbers = [int(part) for part in rest]
    if level == "w" and len(rest) == 1 and _is_day(rest[0]):
        return StaffPick(level, purpose, rest[0])
    if level == "d" and len(rest) == 2 and _is_day(rest[0]):
        return StaffPick(level, purpose, rest[0], page=numbers[1])
    if level == "r" and len(rest) == 3 and _is_day(rest[0]):
        return StaffPick(level, purpose, rest[0], numbers[1], numbers[2])
    if level == "t" and len(rest) == 1:
        return StaffPick(level, purpose, number=numbers[0])
    if level == "t" and len(rest) == 3 and _is_day(rest[1]):
        return StaffPick(level, purpose, rest[1], numbers[0], numbers[2])
    return None


def _is_day(text: str) -> bool:
    return len(text) == 8


# Broadcast buttons: ``c:a:<audience kind>``, ``c:send``, ``c:no``.
BROADCAST = "c"


def broadcast(action: str, argument: str = "") -> str:
    return f"{BROADCAST}:{action}:{argument}" if argument else f"{BROADCAST}:{action}"


# Trip change confirmations: ``sd:y|n`` (delay), ``sc:y|n`` (cancel the trip).
def trip_change(kind: str, answer: str) -> str:
    return f"{kind}:{answer}"


# Role buttons an admin gets for a forwarded message: ``r:<a|r>:<user id>``.
ROLE = "r"


def role_change(action: str, user_id: int) -> str:
    return f"{ROLE}:{action}:{user_id}"


def parse_role_change(data: str | None) -> tuple[str, int] | None:
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[0] != ROLE or parts[1] not in ("a", "r"):
        return None
    return (parts[1], int(parts[2])) if parts[2].isdigit() else None


# Every button of a staff dialogue (pickers, delay and cancel, broadcast, roles): a press on
# any other (a booking card, the menu, a ticket) leaves an open staff step (handlers/staff.py).
STAFF_BUTTON_PREFIX = rf"(?:{STAFF_PICK}[a-z]?|{BROADCAST}|{ROLE}):"
