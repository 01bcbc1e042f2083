"""`kassa demo`: seeds on first run, numbered buttons work, EOF and Ctrl-C end it, and a
booking in progress is there on the next run."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import aiohttp

from booking.tickets.codes import load_signing_key
from bot import demo
from bot.demo import chat, kept_secrets
from bot.settings import Settings


async def test_demo_books_through_numbered_buttons_and_exits_on_eof(tmp_path):
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db")
    steps = "1\n1\n2\n2\n1\n1\n"  # book, Beijing, Tianjin, Tomorrow, first trip, 1 passenger
    out = io.StringIO()
    assert await chat(settings, io.StringIO(steps + "Any seats\n"), out) == 0
    text = out.getvalue()
    assert "Seeded the demo network" in text
    assert "[1] 🚌 Book a trip" in text
    assert "How many passengers" in text and "Pick 1 seat" in text
    assert text.rstrip().endswith("bye")


async def test_a_label_typed_presses_its_button_and_a_number_pads_numbers_are_its_labels(
        tmp_path):
    """At "How many passengers?" the buttons are 1 to 9 and « Back: "10" typed there is ten
    passengers (refused), not the tenth button, « Back."""
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db")
    # Book a trip (its label), Beijing, Tianjin, Tomorrow, the first trip; then at the count:
    # 10, « Back (its label), the first trip again, 3 (the button labelled 3).
    steps = "🚌 Book a trip\n1\n2\n2\n1\n10\n« Back\n1\n3\n"
    out = io.StringIO()
    assert await chat(settings, io.StringIO(steps), out) == 0
    text = out.getvalue()
    assert "the bot failed" not in text
    after = text.split("you> 🚌 Book a trip")[1]
    assert "Where are you leaving from?" in after.split("you> 1")[0]
    count_card = after.split("you> 10")[0].split("you> 1")[-1]
    assert "[1]  [2]" in count_card and "[« Back]" in count_card
    assert "[10]" not in count_card and "[1] 1" not in count_card
    assert "You can book from 1 to 9 seats here." in after.split("you> 10")[1].split("you> «")[0]
    assert "Tap a trip, or type another date." in after.split("you> « Back")[1].split("you>")[0]
    assert "Pick 3 seats" in after.split("you> 3")[1]


async def test_bytes_that_are_not_utf8_are_typed_as_a_telegram_client_would(tmp_path):
    """A paste cut inside a character reaches Python as a lone surrogate, which no
    Telegram update can hold (and no JSON column can store, where a broadcast's text waits
    for its confirmation): the demo sends the replacement character instead."""
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db",
                        staff_ids=[demo.DEMO_USER_ID])
    cut = b"Road works\xd0".decode("utf-8", "surrogateescape")
    out = io.StringIO()
    # /broadcast to everyone who used the bot, then the message.
    assert await chat(settings, io.StringIO(f"/broadcast\n4\n{cut}\n"), out) == 0
    text = out.getvalue()
    assert "the bot failed" not in text and "Traceback" not in text
    assert "Road works\ufffd" in text and "Send it to 1 person?" in text
    assert text.rstrip().endswith("bye")


async def test_a_booking_in_progress_is_there_to_continue_on_the_next_run(tmp_path):
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db")
    await chat(settings, io.StringIO("1\n1\n2\n2\n"), io.StringIO())  # ... Tianjin, Tomorrow
    out = io.StringIO()
    # The demo greets with /start on every run: it keeps the booking, and offers it.
    assert await chat(settings, io.StringIO("1\n"), out) == 0
    text = out.getvalue()
    assert "[1] ▶ Continue booking Beijing → Tianjin" in text
    assert "Tap a trip, or type another date." in text.split("you> 1")[1]


def demo_process(tmp_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "KASSA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/demo.db"}
    program = "import sys; from bot.cli import main; sys.exit(main(['demo']))"
    return subprocess.Popen([sys.executable, "-c", program], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=tmp_path)


def wait_for(process: subprocess.Popen[str], seen: list[str], text: str) -> None:
    deadline = time.monotonic() + 60  # the first run seeds a year of trips
    while not any(text in line for line in seen):
        assert process.poll() is None, "".join(seen)
        assert time.monotonic() < deadline, "".join(seen)
        time.sleep(0.05)


def test_ctrl_c_ends_the_demo_at_once_and_the_booking_is_kept(tmp_path):
    with demo_process(tmp_path) as process:
        assert process.stdin is not None and process.stdout is not None
        stdout = process.stdout
        seen: list[str] = []
        reader = threading.Thread(target=lambda: seen.extend(iter(stdout.readline, "")),
                                  daemon=True)
        reader.start()
        process.stdin.write("1\n1\n2\n")  # book, Beijing, Tianjin; the input stays open
        process.stdin.flush()
        wait_for(process, seen, "When do you travel?")
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        try:
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:  # it hangs: fail, rather than wait with it
                process.kill()
        assert time.monotonic() - started < 5
        reader.join(timeout=5)
        stderr = process.stderr.read() if process.stderr else ""
    assert stderr == ""  # no traceback
    assert "".join(seen).rstrip().endswith("bye")
    # The database is as after the last update: the next run offers the booking.
    with demo_process(tmp_path) as process:
        output, _ = process.communicate("", timeout=60)
    assert process.returncode == 0
    assert "▶ Continue booking Beijing → Tianjin" in output


def test_the_demo_keeps_its_secrets_beside_its_database(tmp_path):
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db",
                        secret_key="from-the-environment")
    first = kept_secrets(settings)
    kept = tmp_path / "demo.secrets.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert first.secret_key is not None
    assert first.secret_key.get_secret_value() == "from-the-environment"  # never replaced
    assert "from-the-environment" not in kept.read_text()  # nor written down
    second = kept_secrets(settings)
    for name in ("payment_webhook_secret", "ticket_signing_key"):
        made, again = getattr(first, name), getattr(second, name)
        assert made is not None and again is not None
        assert made.get_secret_value() == again.get_secret_value()
    load_signing_key(second.ticket_signing_key.get_secret_value())
    # A damaged file is replaced, not trusted.
    kept.write_text('{"ticket_signing_key": "not a key"}')
    mended = kept_secrets(settings).ticket_signing_key
    assert mended is not None
    load_signing_key(mended.get_secret_value())
    # A database that is not a file keeps nothing.
    memory = Settings(_env_file=None, database_url="sqlite+aiosqlite:///:memory:")
    assert kept_secrets(memory) == memory


async def test_a_pay_link_from_an_earlier_run_still_opens(tmp_path):
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db",
                        http_port=_unused_port())
    steps = "Beijing to Tianjin tomorrow 1 seat\n1\n1\nLi Na\n1\n"  # trip, any seat, name, Confirm
    out = io.StringIO()
    assert await chat(settings, io.StringIO(steps), out) == 0
    links = re.findall(r"http://127\.0\.0\.1:\d+/pay/\S+", out.getvalue())
    assert links, out.getvalue()

    async def page() -> int:
        async with aiohttp.ClientSession() as session:
            for _attempt in range(100):  # the input is read from the start: wait for the page
                try:
                    async with session.get(links[-1]) as answer:
                        return answer.status
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        return 0

    opened: list[int] = []

    class Reading(io.StringIO):
        def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]
            if not opened:  # the second run's first read: open the first run's link
                opened.append(asyncio.run_coroutine_threadsafe(page(), loop).result(20))
            return ""

    loop = asyncio.get_running_loop()
    assert await chat(settings, Reading(), io.StringIO()) == 0
    assert opened == [200]


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_between_inputs_the_card_counts_down_and_the_prompt_comes_back(monkeypatch):
    monkeypatch.setattr(demo, "JOBS_INTERVAL_SECONDS", 0.001)

    class Jobs:
        async def expire_holds(self) -> int:
            return 0

        async def deliver_outbox(self, application: object) -> SimpleNamespace:
            return SimpleNamespace(handled=0)

        async def count_down_held_cards(self, application: object) -> int:
            counted.set()
            card.visible_text, card.edits = "⏳ 5 minutes left to pay.", card.edits + 1
            return 1

    card = SimpleNamespace(message_id=1, edits=0, document=None, visible_text="Held",
                           buttons=[], inline_keyboard=[])
    user = SimpleNamespace(messages=[card])
    out = io.StringIO()
    jobs = Jobs()
    counted = asyncio.Event()
    running = asyncio.create_task(demo._run_jobs(jobs, None, user, demo.Transcript(out),
                                                 "you> "))
    await asyncio.wait_for(counted.wait(), 10)
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    assert "bot> ⏳ 5 minutes left to pay." in out.getvalue()
    assert out.getvalue().endswith("you> ")


def test_an_older_card_edited_is_printed_and_the_numbers_stay_the_newest_cards():
    """The held card counting down under a newer card (My tickets): "1" typed next is the
    newer card's first button, not the held card's Cancel."""
    def card(message_id: int, text: str, *labels: str) -> SimpleNamespace:
        keyboard = [[{"text": "💳 Pay", "url": "http://127.0.0.1/pay/x"}],
                    *([{"text": label, "callback_data": f"{message_id}:{label}"}]
                      for label in labels)]
        return SimpleNamespace(message_id=message_id, edits=0, document=None,
                               visible_text=text, buttons=labels, inline_keyboard=keyboard)

    held = card(1, "Held until 10:15", "Cancel hold")
    mine = card(2, "Your bookings", "Booking A", "Booking B")
    out = io.StringIO()
    transcript = demo.Transcript(out)
    transcript.show([held, mine])
    assert transcript.button_for("1") == "2:Booking A"
    held.visible_text, held.edits = "⏳ 5 minutes left to pay.", 1
    assert transcript.show([held, mine])
    assert "bot (edited)> ⏳ 5 minutes left to pay." in out.getvalue()
    assert "💳 Pay: http://127.0.0.1/pay/x" in out.getvalue().split("(edited)")[1]
    assert "[1] Cancel hold" not in out.getvalue().split("(edited)")[1]
    assert transcript.button_for("1") == "2:Booking A"
    assert transcript.button_for("Cancel hold") is None


async def test_a_broadcasts_progress_card_ends_with_its_report(tmp_path, monkeypatch):
    """The card a broadcast leaves ("Sending… 0 sent … of 1") is edited by the job queue
    until every message is out, in the demo as in `kassa run`."""
    from handlers import broadcast

    monkeypatch.setattr(demo, "JOBS_INTERVAL_SECONDS", 0.05)
    monkeypatch.setattr(broadcast, "PROGRESS_SECONDS", 0.1)
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/demo.db",
                        staff_ids=[demo.DEMO_USER_ID], http_port=_unused_port())
    out = io.StringIO()
    lines = iter(["/broadcast\n", "4\n", "The 8:00 leaves from platform 2\n", "1\n"])

    class Typing(io.StringIO):
        """The four lines, then, as a person at the terminal would, waits: for the report."""

        def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]
            line = next(lines, None)
            if line is not None:
                return line
            deadline = time.monotonic() + 20
            while "Broadcast done" not in out.getvalue() and time.monotonic() < deadline:
                time.sleep(0.05)
            return ""

    assert await chat(settings, Typing(), out) == 0
    text = out.getvalue()
    assert "Send it to 1 person?" in text
    assert "Broadcast done: 1 sent, 0 failed, 0 blocked the bot, of 1." in text
    assert "the bot failed" not in text


async def test_a_terminal_line_that_is_not_utf8_is_read_not_taken_for_the_end():
    """Read from the terminal's bytes: a strict UTF-8 stdin (a UTF-8 locale's) would raise
    on the cut character, and the demo would end as if the input had."""
    stdin = io.TextIOWrapper(io.BytesIO(b"Road works\xd0\n/help\n"), encoding="utf-8",
                             errors="strict")
    lines = demo.Lines(stdin)
    try:
        assert await lines.next() == "Road works\ufffd\n"
        assert await lines.next() == "/help\n"
        assert await lines.next() == ""
    finally:
        lines.close()
