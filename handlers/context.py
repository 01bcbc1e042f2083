"""How handlers reach the services: a typed CallbackContext over an Application that owns them.

Services live on the Application object (not in bot_data) because bot_data is persisted as JSON
and services are not data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from telegram.ext import Application, CallbackContext, ExtBot

from booking.customers import CustomerService
from booking.model import Station
from booking.service import BookingService
from booking.stations import StationIndex
from locales import Texts, pick_language, texts

UserData = dict[str, Any]
ChatData = dict[str, Any]
BotData = dict[str, Any]


@dataclass
class Services:
    """Everything the handlers call into; made by bot.services, closed by its owner."""

    booking: BookingService
    customers: CustomerService
    stations: list[Station] = field(default_factory=list)  # busiest first
    index: StationIndex | None = None

    async def load_stations(self) -> None:
        """Read the station catalogue once; the timetable changes rarely and by a restart."""
        self.stations = await self.booking.stations()
        self.index = StationIndex(self.stations)

    def station(self, code: str) -> Station | None:
        return next((s for s in self.stations if s.code == code), None)

    @property
    def station_index(self) -> StationIndex:
        if self.index is None:
            raise RuntimeError("Services.load_stations() has not run")
        return self.index


class KassaApplication(Application[ExtBot[None], Any, UserData, ChatData, BotData, Any]):
    """An Application that carries the services for its handlers."""

    __slots__ = ("services",)

    def __init__(self, *, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services


class KassaContext(CallbackContext[ExtBot[None], UserData, ChatData, BotData]):
    """The context every Kassa handler receives."""

    @property
    def services(self) -> Services:
        return cast(KassaApplication, self.application).services

    @property
    def language(self) -> str:
        data = self.user_data
        return pick_language(data.get("lang") if data is not None else None)

    @property
    def texts(self) -> Texts:
        return texts(self.language)
