"""Bot-level methods: identity, commands, webhook settings and getUpdates."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

from bot.emulator.errors import BotApiError, bad_request
from bot.emulator.params import Params
from bot.emulator.state import DEFAULT_ALLOWED_UPDATES, EmulatorState

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")

async def get_me(emu: EmulatorState, p: Params) -> dict[str, Any]:
    """getMe."""
    return {
        **emu.bot.to_api(),
        "can_join_groups": True,
        "can_read_all_group_messages": not emu.group_privacy,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def _command_key(p: Params) -> tuple[str, str]:
    scope = p.get_json("scope", "can't parse BotCommandScope JSON object") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), p.get_str("language_code") or ""


async def set_my_commands(emu: EmulatorState, p: Params) -> bool:
    """setMyCommands."""
    commands = p.get_json("commands", "can't parse commands JSON object")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    cleaned: list[dict[str, str]] = []
    for item in commands:
        command = str(item.get("command", "")) if isinstance(item, dict) else ""
        description = str(item.get("description", "")) if isinstance(item, dict) else ""
        # Telegram lowercases nothing for you: "/Book" or "book-now" are refused outright.
        if not _COMMAND.fullmatch(command.removeprefix("/")):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        cleaned.append({"command": command.removeprefix("/"), "description": description})
    emu.commands[_command_key(p)] = cleaned
    return True


async def get_my_commands(emu: EmulatorState, p: Params) -> list[dict[str, str]]:
    """getMyCommands."""
    return emu.commands.get(_command_key(p), [])


async def delete_my_commands(emu: EmulatorState, p: Params) -> bool:
    """deleteMyCommands."""
    emu.commands.pop(_command_key(p), None)
    return True


async def set_webhook(emu: EmulatorState, p: Params) -> bool:
    """setWebhook: remembered, so getUpdates conflicts as on Telegram. Updates are pushed
    to it only where a WebhookDelivery is installed (bot/emulator/webhook.py)."""
    emu.webhook_url = p.get_str("url") or ""
    emu.webhook_secret_token = p.get_str("secret_token") or ""
    if p.get_bool("drop_pending_updates"):
        emu.pending.clear()
    return True


async def delete_webhook(emu: EmulatorState, p: Params) -> bool:
    """deleteWebhook."""
    emu.webhook_url = ""
    if p.get_bool("drop_pending_updates"):
        emu.pending.clear()
    return True


async def get_webhook_info(emu: EmulatorState, p: Params) -> dict[str, Any]:
    """getWebhookInfo."""
    return {
        "url": emu.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(emu.pending),
        "allowed_updates": sorted(emu.allowed_updates),
    }


async def refuse_session_change(emu: EmulatorState, p: Params) -> bool:
    """logOut and close: refused, since they would end the bot's session with the real cloud."""
    raise bad_request("logOut and close are refused by the Kassa Bot API emulator")


async def get_updates(emu: EmulatorState, p: Params) -> list[dict[str, Any]]:
    """getUpdates with offset acknowledgement and long polling."""
    if emu.webhook_url:
        raise BotApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    limit = min(max(p.get_int("limit") or 100, 1), 100)
    timeout = max(p.get_float("timeout") or 0.0, 0.0)
    allowed = p.get_json("allowed_updates", "can't parse allowed updates JSON object")
    if isinstance(allowed, list):
        emu.allowed_updates = frozenset(map(str, allowed)) or DEFAULT_ALLOWED_UPDATES
    emu.confirm(p.get_int("offset") or 0)

    # Telegram serves one long poll per bot: a newer request ends the older one with 409.
    ticket = object()
    emu.poller = ticket
    emu.notify()
    releases = emu.release_count
    try:
        async with _timeout(timeout):
            while True:
                if emu.poller is not ticket:
                    raise BotApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                batch = emu.take_pending(limit)
                if batch or timeout == 0 or emu.release_count != releases:
                    return batch
                await emu.wait_change()
    except TimeoutError:
        return []
    finally:
        if emu.poller is ticket:
            emu.poller = None


def _timeout(seconds: float) -> contextlib.AbstractAsyncContextManager[Any]:
    # Zero means "answer at once", which needs no timer.
    return asyncio.timeout(seconds) if seconds > 0 else contextlib.nullcontext()


METHODS = {
    "getMe": get_me,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "logOut": refuse_session_change,
    "close": refuse_session_change,
    "getUpdates": get_updates,
}
