"""/staff: admins see who is staff, and give or take the staff role, by user id or by
forwarding a message of the person. The decision is booking.roles's (it checks the admin
again in its transaction); this module parses, asks, and refreshes the person's menu."""

from __future__ import annotations

from telegram import MessageOriginUser, Update

from booking.errors import BookingError
from booking.model import Customer, Role
from booking.roles import RoleChange, RoleOutcome
from handlers import callback_data as cb
from handlers.cards import Card, answer_query, button, show
from handlers.command_menu import publish_menu
from handlers.context import KassaContext
from handlers.errors import N_, error_text
from handlers.staff import is_staff, staff_only, stop_here
from locales import Texts

OUTCOMES = {
    RoleOutcome.GRANTED: N_("{person} is staff now."),
    RoleOutcome.ALREADY_STAFF: N_("{person} is staff already."),
    RoleOutcome.REVOKED: N_("{person} is no longer staff."),
    RoleOutcome.NOT_GRANTED: N_("{person} is not staff: nothing to take back."),
    RoleOutcome.KEPT_BY_SETTINGS: N_(
        "{person} stays staff: KASSA_STAFF_IDS lists them. Change that setting to take it away."),
    RoleOutcome.ADMIN: N_(
        "{person} is an admin; admins are set in KASSA_ADMIN_IDS, not in the bot."),
}


def person(customer: Customer) -> str:
    return f"{customer.name} ({customer.id})" if customer.name else str(customer.id)


async def staff_command(update: Update, context: KassaContext) -> None:
    """/staff, /staff add <user id>, /staff remove <user id>."""
    if not await staff_only(update, context, admin=True):
        return
    _ = context.texts
    args = [a.lower() for a in context.args or []]
    if not args:
        await _show_staff(update, context)
        return
    action = {"add": "a", "remove": "r"}.get(args[0])
    user_id = _user_id(args[1]) if len(args) == 2 else None
    if action is None or user_id is None:
        await show(update, context, Card(usage(_), []), edit=False)
        return
    await change_role(update, context, action, user_id)


def usage(_: Texts) -> str:
    return _("Give a Telegram user id as a number:\n/staff add 123456789\n"
             "/staff remove 123456789\nOr forward me a message from the person.")


def _user_id(text: str) -> int | None:
    # Telegram user ids are positive and, today, under 2^52.
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 2**52 else None


async def _show_staff(update: Update, context: KassaContext) -> None:
    _ = context.texts
    user = update.effective_user
    if user is None:
        return
    try:
        members = await context.services.roles.staff(user.id)
    except BookingError as error:
        await show(update, context, Card(error_text(_, error), []), edit=False)
        return
    lines = [_("Staff and admins:")]
    for member in members:
        role = _("admin") if member.customer.role is Role.ADMIN else _("staff")
        source = _("settings") if member.listed else _("granted in the bot")
        lines.append(f"• {person(member.customer)} — {role}, {source}")
    lines += ["", usage(_)]
    await show(update, context, Card("\n".join(lines), []), edit=False)


async def change_role(update: Update, context: KassaContext, action: str, user_id: int) -> None:
    """Grant (``a``) or revoke (``r``) the staff role, and refresh the person's menu."""
    _ = context.texts
    admin = update.effective_user
    if admin is None:
        return
    roles = context.services.roles
    try:
        change: RoleChange = await (roles.grant_staff(admin.id, user_id) if action == "a"
                                    else roles.revoke_staff(admin.id, user_id))
    except BookingError as error:
        await show(update, context, Card(error_text(_, error), []), edit=False)
        return
    if change.outcome in (RoleOutcome.GRANTED, RoleOutcome.REVOKED):
        await publish_menu(context.bot, change.customer)
    text = _(OUTCOMES[change.outcome], person=person(change.customer))
    await show(update, context, Card(text, []), edit=update.callback_query is not None)


async def on_forward(update: Update, context: KassaContext) -> None:
    """An admin forwarded someone's message: offer to change that person's role. Anyone
    else's forward is left to the booking conversation."""
    message = update.effective_message
    if message is None or message.forward_origin is None:
        return
    if not await is_staff(update, context, admin=True):
        return
    _ = context.texts
    origin = message.forward_origin
    if isinstance(origin, MessageOriginUser) and not origin.sender_user.is_bot:
        sender = origin.sender_user
        who = f"{sender.full_name} ({sender.id})"
        card = Card(_("A message from {person}. Change their role?", person=who), [
            [button(_("Make staff"), cb.role_change("a", sender.id)),
             button(_("Remove staff"), cb.role_change("r", sender.id))],
        ])
    else:
        card = Card(_("I cannot see who wrote this message (their privacy settings hide it "
                      "in forwards). Ask them for their user id and use /staff add."), [])
    await show(update, context, card, edit=False)
    await stop_here(update, context)


async def on_role_button(update: Update, context: KassaContext) -> None:
    """Make staff / Remove staff under a forwarded message's card."""
    query = update.callback_query
    parsed = cb.parse_role_change(query.data if query else None)
    if parsed is None:
        await answer_query(update, context.texts("This button is out of date."))
        return
    if not await staff_only(update, context, admin=True):
        return
    await answer_query(update)
    await change_role(update, context, *parsed)
