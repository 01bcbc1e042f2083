"""`kassa demo`: seeds on first run, numbered buttons work, EOF and Ctrl-C end it, and a
booking in progress is there on the next run."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from bot.demo import chat
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
