"""The command menus Telegram shows: passengers see theirs; each staff member's chat shows the
staff commands too (and an admin's /staff), set per chat scope so passengers never see them.

Staff command modules add their commands with ``add_staff_command`` from handlers/registry.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from booking.model import Customer, Role
from handlers.errors import N_
from locales import LANGUAGES, pick_language, texts


@dataclass(frozen=True, slots=True)
class MenuCommand:
    name: str
    description: str  # a message id, translated when published
    admin: bool = False  # shown to admins only


PASSENGER_COMMANDS = (
    MenuCommand("start", N_("Main menu")),
    MenuCommand("book", N_("Book a trip")),
    MenuCommand("mytickets", N_("My tickets")),
    MenuCommand("language", N_("Change language")),
    MenuCommand("help", N_("How to book")),
    MenuCommand("cancel", N_("Stop the current booking")),
)

_STAFF_COMMANDS: list[MenuCommand] = []


def add_staff_command(name: str, description: str, *, admin: bool = False) -> None:
    """Show ``name`` in staff menus (admins' only, when ``admin``)."""
    if all(command.name != name for command in _STAFF_COMMANDS):
        _STAFF_COMMANDS.append(MenuCommand(name, description, admin))


def staff_commands_for(role: Role, language: str) -> list[BotCommand]:
    """The commands a staff member or admin has beyond a passenger's (none for one)."""
    return commands_for(role, language)[len(PASSENGER_COMMANDS):]


def commands_for(role: Role, language: str) -> list[BotCommand]:
    """The menu of a person with ``role``, in ``language``."""
    _ = texts(language)
    shown = [*PASSENGER_COMMANDS]
    if role is not Role.PASSENGER:
        shown += [c for c in _STAFF_COMMANDS if role is Role.ADMIN or not c.admin]
    return [BotCommand(c.name, _(c.description)) for c in shown]


async def publish_default_menus(bot: Bot) -> None:
    """The passengers' menu, in every language."""
    for language in LANGUAGES:
        code = None if language == "en" else language
        await bot.set_my_commands(commands_for(Role.PASSENGER, language), language_code=code)


async def publish_menu(bot: Bot, customer: Customer) -> None:
    """The menu of this person's private chat: staff commands for staff, none of its own
    for a passenger (they see the default one). A chat Telegram does not know yet (staff
    listed in the settings who never wrote to the bot) gets it on their first message."""
    scope = BotCommandScopeChat(customer.id)
    try:
        if customer.role is Role.PASSENGER:
            await bot.delete_my_commands(scope=scope)
        else:
            language = pick_language(customer.language)
            await bot.set_my_commands(commands_for(customer.role, language), scope=scope)
    except TelegramError:
        pass  # chat not found: the menu is set again when they write
