"""Bot state in the database: read back by a new process, and a conversation survives a crash."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import (
    Application,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    PersistenceInput,
    filters,
)

from bot.emulator import BotApiEmulator, BotHarness, emulated_builder
from bot.emulator.harness import Delivery
from bot.persistence import DatabasePersistence, save_after_each_update
from storage import tables as t

Context = ContextTypes.DEFAULT_TYPE

FLOW = {"state": 2, "origin": "MOW", "names": ["Ann", "Bob"], "want": None, "price": 12.5,
        "paid": False, "nested": {"seats": ["1A"]}}


async def rows(engine: AsyncEngine, kind: str | None = None) -> dict[tuple[str, str], Any]:
    query = select(t.bot_state.c.kind, t.bot_state.c.key, t.bot_state.c.data)
    if kind is not None:
        query = query.where(t.bot_state.c.kind == kind)
    async with engine.connect() as conn:
        return {(r.kind, r.key): r.data for r in await conn.execute(query)}


@pytest.fixture
def writes(engine: AsyncEngine) -> Iterator[list[str]]:
    """The INSERT, UPDATE and DELETE statements sent to the database, as they happen."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine.sync_engine, "before_cursor_execute", record)


# ---- the persistence API ---------------------------------------------------------------------


async def test_everything_written_is_read_back_by_a_new_persistence(engine: AsyncEngine) -> None:
    before = DatabasePersistence(engine)
    await before.update_user_data(1001, {"flow": FLOW, "lang": "ru"})
    await before.update_user_data(2**40, {"lang": "zh"})  # Telegram ids exceed 32 bits
    await before.update_chat_data(-100123, {"pinned": 5})
    await before.update_bot_data({"broadcast": {"sent": 3}})
    await before.update_callback_data(
        ([("kb-1", 1_750_000_000.5, {"b-1": "pick:BJS", "b-2": {"seat": "1A"}})], {"q-1": "kb-1"})
    )
    await before.update_conversation("booking", (1001, 1001), 3)
    await before.update_conversation("booking", (-100123, 7), 1)
    await before.update_conversation("staff", (5, 5), "broadcast")

    after = DatabasePersistence(engine)  # as a restarted process would make it
    assert await after.get_user_data() == {
        1001: {"flow": FLOW, "lang": "ru"},
        2**40: {"lang": "zh"},
    }
    assert await after.get_chat_data() == {-100123: {"pinned": 5}}
    assert await after.get_bot_data() == {"broadcast": {"sent": 3}}
    assert await after.get_callback_data() == (
        [("kb-1", 1_750_000_000.5, {"b-1": "pick:BJS", "b-2": {"seat": "1A"}})],
        {"q-1": "kb-1"},
    )
    assert await after.get_conversations("booking") == {(1001, 1001): 3, (-100123, 7): 1}
    assert await after.get_conversations("staff") == {(5, 5): "broadcast"}


async def test_nothing_stored_reads_as_empty(engine: AsyncEngine) -> None:
    persistence = DatabasePersistence(engine)
    assert await persistence.get_user_data() == {}
    assert await persistence.get_chat_data() == {}
    assert await persistence.get_bot_data() == {}
    assert await persistence.get_callback_data() is None
    assert await persistence.get_conversations("booking") == {}


async def test_each_get_returns_fresh_objects(engine: AsyncEngine) -> None:
    persistence = DatabasePersistence(engine)
    await persistence.update_user_data(1001, {"flow": {"names": ["Ann"]}})
    await persistence.update_bot_data({"n": 1})
    first = await persistence.get_user_data()
    first[1001]["flow"]["names"].append("Bob")
    (await persistence.get_bot_data())["n"] = 2
    assert await persistence.get_user_data() == {1001: {"flow": {"names": ["Ann"]}}}
    assert await persistence.get_bot_data() == {"n": 1}


async def test_updates_replace_and_endings_delete(engine: AsyncEngine) -> None:
    persistence = DatabasePersistence(engine)
    await persistence.update_conversation("booking", (1, 1), 2)
    await persistence.update_conversation("booking", (1, 1), 5)
    await persistence.update_user_data(1, {"a": 1})
    await persistence.update_user_data(1, {"b": 2})
    assert await persistence.get_conversations("booking") == {(1, 1): 5}
    assert await persistence.get_user_data() == {1: {"b": 2}}

    await persistence.update_conversation("booking", (1, 1), None)  # the conversation ended
    await persistence.drop_user_data(1)
    await persistence.update_chat_data(9, {"x": 1})
    await persistence.drop_chat_data(9)
    await persistence.drop_chat_data(404)  # never stored: nothing to do, no error
    assert await rows(engine) == {}


async def test_data_unchanged_since_it_was_read_is_not_written_back(
    engine: AsyncEngine, writes: list[str]
) -> None:
    first = DatabasePersistence(engine)
    await first.update_bot_data({"n": 1})
    await first.update_conversation("booking", (1, 1), 2)
    assert len(writes) == 2
    restarted = DatabasePersistence(engine)
    await restarted.get_bot_data()
    await restarted.get_conversations("booking")
    await restarted.update_bot_data({"n": 1})  # what it read is what it holds
    await restarted.update_conversation("booking", (1, 1), 2)
    assert len(writes) == 2
    user_data: dict[str, Any] = {}
    await restarted.refresh_user_data(7, user_data)
    user_data["lang"] = "ru"
    await restarted.update_user_data(7, user_data)
    await restarted.refresh_user_data(7, user_data)
    await restarted.update_user_data(7, user_data)  # handed over again, unchanged
    assert len(writes) == 3
    await restarted.update_bot_data({"n": 2})
    assert len(writes) == 4


# ---- two processes on one database ----------------------------------------------------------


async def test_a_write_of_one_process_is_what_the_other_refreshes_to(engine: AsyncEngine) -> None:
    a, b = DatabasePersistence(engine), DatabasePersistence(engine)
    # Each process's dicts, as PTB holds them: refreshed before an update, handed over after.
    a_user: dict[str, Any] = {}
    b_user: dict[str, Any] = {}
    b_chat: dict[str, Any] = {}
    b_bot: dict[str, Any] = {}
    await b.refresh_user_data(1001, b_user)
    assert b_user == {}

    await a.refresh_user_data(1001, a_user)
    a_user.update(lang="ru", flow=FLOW)
    await a.update_user_data(1001, a_user)
    await a.update_chat_data(-5, {"pinned": 5})
    await a.update_bot_data({"n": 1})
    await b.refresh_user_data(1001, b_user)
    await b.refresh_chat_data(-5, b_chat)
    await b.refresh_bot_data(b_bot)
    assert (b_user, b_chat, b_bot) == ({"lang": "ru", "flow": FLOW}, {"pinned": 5}, {"n": 1})

    # b changes the passenger's language; a's next update for them sees it.
    b_user["lang"] = "zh"
    await b.update_user_data(1001, b_user)
    await a.refresh_user_data(1001, a_user)
    assert a_user == {"lang": "zh", "flow": FLOW}

    await b.drop_user_data(1001)
    await a.refresh_user_data(1001, a_user)
    assert a_user == {}


async def test_a_write_is_never_skipped_for_a_copy_another_process_replaced(
    engine: AsyncEngine,
) -> None:
    # As PTB drives it: a writes X; b reads X and writes Y; a reads Y, its handler sets X
    # again. a's X is a newer decision than b's Y, so it is written.
    a, b = DatabasePersistence(engine), DatabasePersistence(engine)
    a_user: dict[str, Any] = {}
    b_user: dict[str, Any] = {}
    await a.refresh_user_data(1, a_user)
    a_user["lang"] = "en"
    await a.update_user_data(1, a_user)
    await b.refresh_user_data(1, b_user)
    b_user["lang"] = "ru"
    await b.update_user_data(1, b_user)
    await a.refresh_user_data(1, a_user)
    assert a_user == {"lang": "ru"}
    a_user["lang"] = "en"
    await a.update_user_data(1, a_user)
    assert await rows(engine, "user_data") == {("user_data", "1"): {"lang": "en"}}


async def test_an_older_copy_never_replaces_a_newer_row(engine: AsyncEngine) -> None:
    # Two processes read the same row; both change it. The first write wins; the second,
    # based on a version that is gone, is refused, and its next refresh reads the winner.
    a, b = DatabasePersistence(engine), DatabasePersistence(engine)
    await a.update_user_data(1, {"flow": {"step": 1}})
    a_user: dict[str, Any] = {}
    b_user: dict[str, Any] = {}
    await a.refresh_user_data(1, a_user)
    await b.refresh_user_data(1, b_user)
    b_user["flow"] = {"step": 2}
    assert await b.save_user_data(1, b_user)
    a_user["flow"] = {"step": 9}  # decided on step 1, after b had moved on
    assert not await a.save_user_data(1, a_user)
    assert await rows(engine, "user_data") == {("user_data", "1"): {"flow": {"step": 2}}}
    await a.refresh_user_data(1, a_user)
    assert a_user == {"flow": {"step": 2}}

    # A write by a process that never read the row is based on "no row": refused too.
    assert not await DatabasePersistence(engine).save_user_data(1, {"flow": {"step": 0}})
    # So is an ending (a delete) based on a version that is gone.
    await a.update_conversation("booking", (1, 1), 1)
    await b.get_conversations("booking")
    await b.update_conversation("booking", (1, 1), 2)
    await a.update_conversation("booking", (1, 1), None)
    assert await rows(engine, "conv:booking") == {("conv:booking", "[1, 1]"): 2}


async def test_a_row_made_anew_is_not_taken_for_the_one_read_before(engine: AsyncEngine) -> None:
    a, b = DatabasePersistence(engine), DatabasePersistence(engine)
    await a.update_conversation("booking", (1, 1), 1)  # a knows the row's first version
    await b.get_conversations("booking")
    await b.update_conversation("booking", (1, 1), None)  # b ends it
    await b.update_conversation("booking", (1, 1), 5)  # and begins it again
    await a.update_conversation("booking", (1, 1), 2)  # a's write is based on the old row
    assert await rows(engine, "conv:booking") == {("conv:booking", "[1, 1]"): 5}


async def test_with_user_data_in_turns_only_the_turn_writes_user_data(
    engine: AsyncEngine, writes: list[str]
) -> None:
    # PTB hands user_data over each update_interval and at shutdown, copied outside the
    # person's turn (perhaps half-way through one): the turn's own save is what counts.
    persistence = DatabasePersistence(engine, user_data_in_turns=True)
    await persistence.update_user_data(1, {"flow": {"step": "half-way"}})
    assert writes == []
    assert await persistence.save_user_data(1, {"flow": {"step": "done"}})
    assert await rows(engine, "user_data") == {("user_data", "1"): {"flow": {"step": "done"}}}


async def test_a_process_that_changed_nothing_does_not_put_back_an_old_copy(
    engine: AsyncEngine,
) -> None:
    a, b = DatabasePersistence(engine), DatabasePersistence(engine)
    a_bot: dict[str, Any] = {"n": 1}
    b_bot: dict[str, Any] = {}
    await a.update_bot_data(a_bot)
    await a.refresh_bot_data(a_bot)  # a's next update reads n=1 and leaves it
    await b.refresh_bot_data(b_bot)
    b_bot["n"] = 2
    await b.update_bot_data(b_bot)
    await a.update_bot_data(a_bot)  # a's periodic run hands its copy over
    assert await rows(engine, "bot_data") == {("bot_data", ""): {"n": 2}}


async def test_a_refresh_keeps_changes_this_process_has_not_written_yet(
    engine: AsyncEngine,
) -> None:
    # Without save_after_each_update PTB writes only every update_interval: until then the
    # process's own dict is newer than the row, and a refresh must not undo it.
    persistence = DatabasePersistence(engine)
    user_data: dict[str, Any] = {}
    await persistence.refresh_user_data(1, user_data)
    user_data["flow"] = {"step": "origin"}
    await persistence.refresh_user_data(1, user_data)
    assert user_data == {"flow": {"step": "origin"}}
    await persistence.update_user_data(1, user_data)
    other = DatabasePersistence(engine)
    other_data: dict[str, Any] = {}
    await other.refresh_user_data(1, other_data)
    await other.update_user_data(1, {"lang": "zh"})
    await persistence.refresh_user_data(1, user_data)  # written: the row is the truth again
    assert user_data == {"lang": "zh"}
    # A change not written yet goes once another process has written the row: it was made
    # on a copy that is no longer the row's, and could not be written over it anyway.
    user_data["lang"] = "ru"
    await other.refresh_user_data(1, other_data)
    await other.update_user_data(1, {"lang": "en"})
    await persistence.refresh_user_data(1, user_data)
    assert user_data == {"lang": "en"}


@pytest.mark.parametrize(
    "data",
    [
        {1: "int key"},  # would come back as "1"
        {"seats": ("1A", "1B")},  # would come back as a list
        {"day": date(2026, 6, 1)},
        {"ratio": float("nan")},
        {"set": {1, 2}},
    ],
)
async def test_data_that_json_would_change_is_refused(engine: AsyncEngine, data: Any) -> None:
    persistence = DatabasePersistence(engine)
    with pytest.raises(TypeError, match="user_data '1001'"):
        await persistence.update_user_data(1001, data)
    assert await rows(engine) == {}


async def test_conversation_names_must_fit_the_kind_column(engine: AsyncEngine) -> None:
    persistence = DatabasePersistence(engine)
    with pytest.raises(ValueError, match="conversation name"):
        await persistence.get_conversations("a" * 40)
    with pytest.raises(ValueError, match="conversation name"):
        await persistence.update_conversation("", (1, 1), 1)


async def test_stores_everything_unless_told_otherwise(engine: AsyncEngine) -> None:
    assert DatabasePersistence(engine).store_data == PersistenceInput(True, True, True, True)
    only_users = PersistenceInput(chat_data=False, bot_data=False, callback_data=False)
    persistence = DatabasePersistence(engine, store_data=only_users, update_interval=5)
    assert persistence.store_data == only_users
    assert persistence.update_interval == 5


# ---- a real Application through the emulator ------------------------------------------------


@pytest.fixture
def emulator() -> BotApiEmulator:
    """A fresh emulated Bot API."""
    return BotApiEmulator()


ORIGIN, DESTINATION = range(2)


async def start(update: Update, context: Context) -> int:
    """Begin a booking."""
    assert update.effective_message is not None and context.user_data is not None
    context.user_data["flow"] = {"step": "origin"}
    await update.effective_message.reply_text("From where?")
    return ORIGIN


async def origin(update: Update, context: Context) -> int:
    """Remember the origin, ask the destination."""
    assert update.effective_message is not None and context.user_data is not None
    context.user_data["flow"] = {"step": "destination", "origin": update.effective_message.text}
    await update.effective_message.reply_text("To where?")
    return DESTINATION


async def destination(update: Update, context: Context) -> int:
    """Confirm the whole trip, end the conversation."""
    assert update.effective_message is not None and context.user_data is not None
    flow = context.user_data.pop("flow")
    await update.effective_message.reply_text(f"{flow['origin']} → {update.effective_message.text}")
    return ConversationHandler.END


def booking_bot(
    emulator: BotApiEmulator, engine: AsyncEngine, *, save_promptly: bool = True
) -> Application[Any, Any, Any, Any, Any, Any]:
    """A bot with a persistent two-step conversation, as the real one is built."""
    application = emulated_builder(emulator).persistence(DatabasePersistence(engine)).build()
    application.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("book", start)],
            states={
                ORIGIN: [MessageHandler(filters.TEXT & ~filters.COMMAND, origin)],
                DESTINATION: [MessageHandler(filters.TEXT & ~filters.COMMAND, destination)],
            },
            fallbacks=[],
            name="booking",
            persistent=True,
        )
    )
    if save_promptly:
        save_after_each_update(application)
    return application


async def crash(harness: BotHarness) -> None:
    """Stop handling updates the way a killed process does: no final save, no shutdown."""
    harness.emulator.sink = None
    if harness.application.running:
        await harness.application.stop()  # ends its tasks; saving happens only in shutdown


@pytest.mark.parametrize("delivery", ["direct", "queue"])
async def test_a_passenger_continues_after_a_crash(
    engine: AsyncEngine, emulator: BotApiEmulator, delivery: Delivery
) -> None:
    first = BotHarness(booking_bot(emulator, engine), emulator, delivery=delivery)
    await first.start()
    anna = first.user("Anna")
    await anna.send("/book")
    await anna.send("Moscow")
    assert anna.last_message.text == "To where?"
    await crash(first)

    second = BotHarness(booking_bot(emulator, engine), emulator, delivery=delivery)
    async with second:
        await anna.send("Kazan")
        assert anna.last_message.text == "Moscow → Kazan"
        second.assert_no_errors()
    # The ended conversation and the emptied flow are stored too.
    assert await rows(engine, "conv:booking") == {}
    assert await rows(engine, "user_data") == {("user_data", str(anna.id)): {}}


async def test_a_graceful_restart_keeps_the_conversation_too(
    engine: AsyncEngine, emulator: BotApiEmulator
) -> None:
    async with BotHarness(booking_bot(emulator, engine, save_promptly=False), emulator) as first:
        anna = first.user("Anna")
        await anna.send("/book")
        await anna.send("Beijing")
    async with BotHarness(booking_bot(emulator, engine, save_promptly=False), emulator):
        await anna.send("Tianjin")
        assert anna.last_message.text == "Beijing → Tianjin"


async def test_without_prompt_saving_a_crash_loses_the_step(
    engine: AsyncEngine, emulator: BotApiEmulator
) -> None:
    # Why save_after_each_update exists: PTB alone saves only periodically and at shutdown.
    first = BotHarness(booking_bot(emulator, engine, save_promptly=False), emulator)
    await first.start()
    anna = first.user("Anna")
    await anna.send("/book")
    await anna.send("Moscow")
    await crash(first)
    assert await rows(engine, "conv:booking") == {}


async def test_state_is_in_the_database_after_each_message(
    engine: AsyncEngine, emulator: BotApiEmulator
) -> None:
    async with BotHarness(booking_bot(emulator, engine), emulator) as harness:
        anna = harness.user("Anna")
        key = ("conv:booking", f"[{anna.id}, {anna.id}]")
        await anna.send("/book")
        assert await rows(engine, "conv:booking") == {key: ORIGIN}
        await anna.send("Moscow")
        assert await rows(engine, "conv:booking") == {key: DESTINATION}
        assert (await rows(engine, "user_data"))[("user_data", str(anna.id))] == {
            "flow": {"step": "destination", "origin": "Moscow"}
        }
        assert {kind for kind, _ in await rows(engine)} == {
            "conv:booking", "user_data", "chat_data", "bot_data"
        }


async def remember(update: Update, context: Context) -> None:
    """Keep the text after /note in user_data."""
    assert update.effective_message is not None and context.user_data is not None
    context.user_data["note"] = " ".join(context.args or [])
    await update.effective_message.reply_text("noted")


async def recall(update: Update, context: Context) -> None:
    """Say what user_data holds."""
    assert update.effective_message is not None and context.user_data is not None
    await update.effective_message.reply_text(f"note: {context.user_data.get('note')}")


def notes_bot(engine: AsyncEngine) -> BotHarness:
    """One bot process with its own PTB Application on the shared database."""
    emulator = BotApiEmulator()
    application = emulated_builder(emulator).persistence(DatabasePersistence(engine)).build()
    application.add_handler(CommandHandler("note", remember))
    application.add_handler(CommandHandler("recall", recall))
    save_after_each_update(application)
    return BotHarness(application, emulator)


async def test_two_bot_processes_on_one_database_see_each_others_user_data(
    engine: AsyncEngine,
) -> None:
    async with notes_bot(engine) as a, notes_bot(engine) as b:  # both loaded before any write
        anna_at_a, anna_at_b = a.user("Anna", user_id=1001), b.user("Anna", user_id=1001)
        await anna_at_a.send("/note X")
        await anna_at_b.send("/recall")
        assert anna_at_b.last_message.text == "note: X"
        await anna_at_b.send("/note Y")
        await anna_at_a.send("/recall")
        assert anna_at_a.last_message.text == "note: Y"
        await anna_at_a.send("/note X")  # A writes X again, after B wrote Y
        assert await rows(engine, "user_data") == {("user_data", "1001"): {"note": "X"}}
        await anna_at_b.send("/recall")
        assert anna_at_b.last_message.text == "note: X"


async def test_a_stopping_process_does_not_put_back_its_older_copy(engine: AsyncEngine) -> None:
    # PTB hands every user it has seen over once more at shutdown. A's copy of Anna's data
    # is older than B's by then: it must not replace it (a rolling restart would otherwise
    # send a passenger back to where they were on the instance that stopped).
    a, b = notes_bot(engine), notes_bot(engine)
    async with b:
        async with a:
            anna_at_a, anna_at_b = a.user("Anna", user_id=1001), b.user("Anna", user_id=1001)
            await anna_at_a.send("/note X")
            await anna_at_b.send("/note Y")
        assert await rows(engine, "user_data") == {("user_data", "1001"): {"note": "Y"}}
        await anna_at_b.send("/recall")
        assert anna_at_b.last_message.text == "note: Y"
