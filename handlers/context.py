"""How handlers reach the services: a typed CallbackContext over an Application that owns them.

Services live on the Application object (not in bot_data) because bot_data is persisted as JSON
and services are not data. Handlers know the booking service only by its interface
(booking.api): in-process today, over HTTP when the booking service runs on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from telegram.ext import Application, CallbackContext, ExtBot

from booking.api import (
    BookingApi,
    BroadcastsApi,
    Connection,
    CustomersApi,
    ManifestApi,
    RolesApi,
    StaffConsoleApi,
    StatsApi,
    TripChangesApi,
)
from booking.model import Station
from booking.stations import StationIndex
from locales import Texts, pick_language, texts

UserData = dict[str, Any]
ChatData = dict[str, Any]
BotData = dict[str, Any]


@dataclass
class StationDirectory:
    """The station catalogue as the bot shows it: busiest first, by code, and an index for
    what people type. Loaded at start-up and refreshed by a job, since a timetable import
    in another process may add or rename stations."""

    stations: list[Station] = field(default_factory=list)
    by_code: dict[str, Station] = field(default_factory=dict)
    index: StationIndex = field(default_factory=lambda: StationIndex([]))

    def replace(self, stations: list[Station]) -> bool:
        """Take a fresh catalogue; True if it differs from the one held."""
        if stations == self.stations:
            return False
        self.stations = stations
        self.by_code = {s.code: s for s in stations}
        self.index = StationIndex(stations)
        return True


@dataclass
class Services:
    """Everything the handlers call into; made by bot.services, closed by its owner."""

    booking: BookingApi
    customers: CustomersApi
    console: StaffConsoleApi
    roles: RolesApi
    manifests: ManifestApi
    stats: StatsApi
    broadcasts: BroadcastsApi
    trip_changes: TripChangesApi
    directory: StationDirectory = field(default_factory=StationDirectory)
    # Telegram Payments' provider token, when payments are taken in the chat.
    telegram_payment_token: str | None = None
    operator: str = "Kassa Coaches"  # printed on tickets and the checkout page

    async def open(self) -> None:
        """Connect to the services reached over a network (the booking service over HTTP);
        in-process services need nothing."""
        for connection in self._connections():
            await connection.open()

    async def close(self) -> None:
        for connection in self._connections():
            await connection.close()

    def _connections(self) -> list[Connection]:
        found: list[Connection] = []
        for service in (self.booking, self.customers):
            if isinstance(service, Connection) and all(service is not f for f in found):
                found.append(service)
        return found

    async def load_stations(self) -> bool:
        """Read the station catalogue; True if it changed."""
        return self.directory.replace(await self.booking.stations())

    @property
    def stations(self) -> list[Station]:
        """Every station, the busiest first."""
        return self.directory.stations

    @property
    def station_index(self) -> StationIndex:
        return self.directory.index

    def station(self, code: str) -> Station | None:
        return self.directory.by_code.get(code)


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
