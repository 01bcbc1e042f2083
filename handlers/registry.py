"""Every handler of the bot, registered in order in one function."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    PreCheckoutQueryHandler,
    TypeHandler,
    filters,
)

from handlers import (
    broadcast,
    checkin,
    conversation,
    failures,
    language,
    lifecycle,
    manifest,
    menu,
    payments,
    roles,
    staff,
    staff_picker,
    stats,
    tickets,
    trip_changes,
    trips_report,
)
from handlers import callback_data as cb
from handlers.command_menu import add_staff_command
from handlers.errors import N_

# Group GATE turns away what no handler can answer; FIRST knows the customer; EDITS answers
# a message edited after it was sent, which no step takes as input; STAFF_STEPS takes a
# staff member's typed answer (or /cancel) while a staff dialogue waits for one, before the
# booking conversation could see it.
GATE, FIRST, EDITS, STAFF_STEPS, MAIN = -4, -3, -2, -1, 0


def register_handlers(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Each group runs its first matching handler; group MAIN answers."""
    application.add_handler(lifecycle.ButtonWithoutChat(), group=GATE)
    application.add_handler(TypeHandler(Update, lifecycle.know_customer), group=FIRST)
    application.add_handler(MessageHandler(
        filters.UpdateType.EDITED & filters.ChatType.PRIVATE, menu.edited_message), group=EDITS)
    application.add_error_handler(failures.on_failure)
    private = filters.ChatType.PRIVATE
    text = filters.TEXT & ~filters.COMMAND & private
    staff_picker.register_trip_action(trips_report.PURPOSE, trips_report.TITLE,
                                      trips_report.show_trip)
    staff_picker.register_trip_action(manifest.PURPOSE, manifest.TITLE, manifest.send_manifest)
    add_staff_command("trips", N_("Trips and seats of a day"))
    add_staff_command("manifest", N_("Passengers of a trip, with a CSV"))
    add_staff_command("stats", N_("Sales, refunds and load factor"))
    add_staff_command("broadcast", N_("Message passengers"))
    add_staff_command("delay", N_("Delay a trip"))
    add_staff_command("cancel_trip", N_("Cancel a trip"))
    staff_picker.register_trip_action(trip_changes.DELAY, trip_changes.DELAY_TITLE,
                                      trip_changes.delay_trip_chosen)
    staff_picker.register_trip_action(trip_changes.CANCEL, trip_changes.CANCEL_TITLE,
                                      trip_changes.cancel_trip_chosen)
    staff.register_text_step(trip_changes.DELAY_MINUTES, trip_changes.delay_minutes_typed)
    staff.register_text_step(trip_changes.DELAY_REASON, trip_changes.delay_reason_typed)
    staff.register_text_step(trip_changes.DELAY_CONFIRM, trip_changes.confirm_typed)
    staff.register_text_step(trip_changes.CANCEL_REASON, trip_changes.cancel_reason_typed)
    staff.register_text_step(trip_changes.CANCEL_CONFIRM, trip_changes.confirm_typed)
    staff_picker.register_trip_action(broadcast.TRIP_PURPOSE, broadcast.TRIP_TITLE,
                                      broadcast.trip_chosen)
    staff_picker.register_trip_action(broadcast.ROUTE_PURPOSE, broadcast.ROUTE_TITLE,
                                      broadcast.route_chosen)
    staff.register_text_step(staff_picker.PICK_DAY, staff_picker.day_typed)
    staff.register_text_step(checkin.CODE_STEP, checkin.code_typed)
    staff.register_text_step(broadcast.DAY_STEP, broadcast.day_typed)
    staff.register_text_step(broadcast.TEXT_STEP, broadcast.text_typed)
    staff.register_text_step(broadcast.CONFIRM_STEP, broadcast.confirm_typed)
    add_staff_command("checkin", N_("Check a ticket in"))
    add_staff_command("staff", N_("Who is staff; add or remove"), admin=True)
    application.add_handlers([
        # An admin's forwarded message offers the sender's role (anyone else's goes on).
        MessageHandler(filters.FORWARDED & private, roles.on_forward),
        MessageHandler(text, staff.on_staff_text),
        CommandHandler("cancel", staff.cancel_step, filters=private),
        MessageHandler(filters.COMMAND & private, staff.leave_step),
        CallbackQueryHandler(staff.leave_step, pattern=f"^(?!{cb.STAFF_BUTTON_PREFIX})"),
    ], group=STAFF_STEPS)
    application.add_handlers([
        ChatMemberHandler(lifecycle.membership_changed, ChatMemberHandler.MY_CHAT_MEMBER),
        CommandHandler("book", conversation.begin, filters=private),
        CommandHandler("cancel", conversation.cancel, filters=private),
        CommandHandler("start", menu.start, filters=private),
        CommandHandler("help", menu.show_help),
        CommandHandler(["mytickets", "tickets"], tickets.list_tickets),
        CommandHandler("language", language.choose_language),
        CommandHandler("checkin", checkin.checkin_command, filters=private),
        CommandHandler("staff", roles.staff_command, filters=private),
        CommandHandler("trips", trips_report.trips_command, filters=private),
        CommandHandler("manifest", manifest.manifest_command, filters=private),
        CommandHandler("stats", stats.stats_command, filters=private),
        CommandHandler("broadcast", broadcast.broadcast_command, filters=private),
        CommandHandler("delay", trip_changes.delay_command, filters=private),
        CommandHandler("cancel_trip", trip_changes.cancel_command, filters=private),
        CallbackQueryHandler(trip_changes.on_button, pattern="^s[dc]:[yn]$"),
        CallbackQueryHandler(broadcast.on_button, pattern=f"^{cb.BROADCAST}:"),
        CallbackQueryHandler(roles.on_role_button, pattern=f"^{cb.ROLE}:"),
        CallbackQueryHandler(conversation.begin, pattern=f"^{cb.menu('book')}$"),
        CallbackQueryHandler(menu.show_help, pattern=f"^{cb.menu('help')}$"),
        CallbackQueryHandler(tickets.list_tickets, pattern=f"^{cb.menu('tickets')}$"),
        CallbackQueryHandler(language.choose_language, pattern=f"^{cb.menu('lang')}$"),
        CallbackQueryHandler(language.set_language, pattern=f"^{cb.LANGUAGE}:"),
        CallbackQueryHandler(tickets.open_ticket, pattern=f"^{cb.TICKETS}:o:"),
        CallbackQueryHandler(tickets.ask_cancel, pattern=f"^{cb.TICKETS}:c:"),
        CallbackQueryHandler(tickets.do_cancel, pattern=f"^{cb.TICKETS}:y:"),
        CallbackQueryHandler(tickets.send_again, pattern=f"^{cb.TICKETS}:s:"),
        CallbackQueryHandler(payments.send_invoice, pattern=f"^{cb.PAY}:"),
        CallbackQueryHandler(conversation.rebook, pattern=f"^{cb.ALTERNATIVE}:"),
        CallbackQueryHandler(staff_picker.on_pick, pattern=f"^{cb.STAFF_PICK}:"),
        PreCheckoutQueryHandler(payments.pre_checkout),
        MessageHandler(filters.SUCCESSFUL_PAYMENT, payments.successful_payment),
        # Every booking card button, and anything else pressed (a button of a finished
        # booking or data we never sent), which the router answers "out of date".
        CallbackQueryHandler(conversation.on_button),
        MessageHandler(text, conversation.on_text),
        MessageHandler(filters.COMMAND & private, menu.not_understood),
        MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, menu.other_content),
    ])
