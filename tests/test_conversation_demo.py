"""`kassa demo` with piped input: seeds on first run, numbered buttons work, EOF ends it."""

from __future__ import annotations

import io

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
