"""Drive a real telegram.ext.Application through the emulator, deterministically."""

from __future__ import annotations

import datetime as dtm
from types import TracebackType
from typing import Any, Literal

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import HTTPXRequest

from bot.emulator.api import BotApiEmulator
from bot.emulator.records import UserRecord
from bot.emulator.request import EmulatorRequest
from bot.emulator.server import EmulatorServer
from bot.emulator.users import SimulatedGroup, SimulatedUser
from bot.turns import handle

Delivery = Literal["direct", "queue", "polling"]
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def emulated_builder(emulator: BotApiEmulator) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    """An ApplicationBuilder whose bot talks to the emulator in-process."""
    return (
        Application.builder()
        .token(emulator.token)
        .request(EmulatorRequest(emulator))
        .get_updates_request(EmulatorRequest(emulator))
    )


def http_builder(server: EmulatorServer) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    """An ApplicationBuilder whose bot talks to a running EmulatorServer over loopback HTTP."""
    # Loopback must never be routed through a proxy taken from the environment.
    no_proxy = {"trust_env": False}
    return (
        Application.builder()
        .token(server.emulator.token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .request(HTTPXRequest(httpx_kwargs=no_proxy))
        .get_updates_request(HTTPXRequest(httpx_kwargs=no_proxy))
    )


class BotHarness:
    """Runs an Application against an emulator and lets simulated people talk to it.

    Delivery modes, all of which return from a user action only after the bot has finished
    handling the resulting update:
      * "direct": each update goes through the Application's update processor to
        `Application.process_update` (fastest, no tasks);
      * "queue": the Application is started and updates go through its update_queue;
      * "polling": the Application is started and polls getUpdates (in-process or over HTTP).
    Errors raised by handlers are recorded in `errors`; with `raise_errors` the user action
    that caused one re-raises it, so a test fails where the bot failed.
    """

    def __init__(
        self,
        application: AnyApplication,
        emulator: BotApiEmulator,
        *,
        delivery: Delivery = "direct",
        raise_errors: bool = True,
        start_application: bool = False,
        timeout: float = 5.0,
    ) -> None:
        self.application = application
        self.emulator = emulator
        self.delivery = delivery
        self.raise_errors = raise_errors
        self.timeout = timeout
        self.errors: list[BaseException] = []
        self._start_application = start_application or delivery != "direct"
        self._started = False

    @classmethod
    def create(
        cls, emulator: BotApiEmulator | None = None, **options: Any
    ) -> BotHarness:
        """A harness around a fresh in-process Application with no handlers yet."""
        emulator = emulator or BotApiEmulator()
        return cls(emulated_builder(emulator).build(), emulator, **options)

    @property
    def bot(self) -> Any:
        """The Application's bot (an ExtBot)."""
        return self.application.bot

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Initialize (and, unless delivering directly, start) the Application."""
        self.application.add_error_handler(self._record_error)
        await self.application.initialize()
        if self._start_application:
            await self.application.start()
        if self.delivery == "polling":
            updater = self.application.updater
            if updater is None:
                raise RuntimeError("polling delivery needs an Application with an Updater")
            await updater.start_polling(
                poll_interval=0.0, timeout=dtm.timedelta(seconds=self.timeout)
            )
        self.emulator.sink = self._sink
        self._started = True

    async def stop(self) -> None:
        """Stop and shut down the Application."""
        if not self._started:
            return
        self._started = False
        self.emulator.sink = None
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
        self.application.remove_error_handler(self._record_error)

    async def __aenter__(self) -> BotHarness:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ---- people ----------------------------------------------------------------------------

    def user(
        self,
        first_name: str = "Anna",
        *,
        user_id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> SimulatedUser:
        """A new person with a private chat with the bot."""
        record = self.emulator.add_user(
            first_name,
            user_id=user_id,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        return SimulatedUser(self.emulator, record)

    def group(
        self, title: str, members: list[SimulatedUser], *, supergroup: bool = True
    ) -> SimulatedGroup:
        """A group the bot is in, with these people as members."""
        records: list[UserRecord] = [m.record for m in members]
        chat = self.emulator.add_group(title, members=records, supergroup=supergroup)
        return SimulatedGroup(self.emulator, chat)

    # ---- errors ----------------------------------------------------------------------------

    def assert_no_errors(self) -> None:
        """Fail if any handler raised."""
        if self.errors:
            raise AssertionError(f"the bot raised {len(self.errors)} error(s): {self.errors!r}")

    async def _record_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            self.errors.append(context.error)

    # ---- delivery --------------------------------------------------------------------------

    async def _sink(self, data: dict[str, Any]) -> None:
        seen = len(self.errors)
        if self.delivery == "direct":
            await handle(self.application, Update.de_json(data, self.application.bot))
        elif self.delivery == "queue":
            await self.application.update_queue.put(Update.de_json(data, self.application.bot))
            await self.application.update_queue.join()
        else:
            # The updater acknowledges an update with its next getUpdates only after putting it
            # in update_queue, so acknowledgement followed by join() means "fully handled".
            update_id = data["update_id"]
            self.emulator.enqueue(data)
            try:
                await self.emulator.wait_until(
                    lambda: self.emulator.confirmed_update_id >= update_id, self.timeout
                )
            except TimeoutError:
                raise TimeoutError(
                    f"the bot did not fetch update {update_id} within {self.timeout} s; "
                    "is it polling this emulator?"
                ) from None
            await self.application.update_queue.join()
        if self.raise_errors and len(self.errors) > seen:
            raise self.errors[seen]
