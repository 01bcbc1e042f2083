"""Instructions per update: a webhook instance's work counted, not timed (callgrind).

    KASSA_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/instructions.py [--passengers 20]

bench/conversation.py times updates on a shared machine, where the same code measures
half again as fast or slow from one run to the next. This counts the instructions the
bot's process executes (valgrind's callgrind, which counts user-space instructions
whatever else the machine is doing; repeatable to ~0.5%): one `kassa webhook` instance
under callgrind takes whole bookings by buttons and typed text (bench/conversation.py's),
and the bare echo bot (bench/echo_webhook.py) as many text messages, both behind the same
webhook on uvloop. The counters are zeroed once the process is serving and read when the
last update is answered, so start-up and shutdown are left out. What it cannot see: the
kernel's share (a round trip's send and wake-up, ~10% of an instance's CPU by perf), and
what the machine's caches make of the instructions. Under callgrind everything runs ~50
times slower, so a run takes a minute or two. Needs valgrind (Debian's package). Last
line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database_url_from_env, fresh_database
from bench.conversation import echo_webhook_run, webhook_run
from bot import event_loop
from storage.database import is_sqlite

# Under callgrind a process starts ~50 times slower than it does alone.
START_SECONDS = 600


class Counted:
    """callgrind's counters of the processes a run names: zeroed at its start, dumped and
    read at its end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.instructions = 0

    def under(self) -> list[str]:
        return ["valgrind", "--tool=callgrind", "--dump-instr=no",
                f"--callgrind-out-file={self.folder}/callgrind.%p",
                f"--log-file={self.folder}/valgrind.%p.log"]

    def begin(self, pids: list[int]) -> None:
        for pid in pids:
            subprocess.run(["callgrind_control", "--zero", str(pid)], check=True,
                           capture_output=True)

    def end(self, pids: list[int]) -> None:
        for pid in pids:
            subprocess.run(["callgrind_control", "--dump", str(pid)], check=True,
                           capture_output=True)
            # The first dump of a process is its file ".1": what it did since the zeroing.
            self.instructions += summary(self.folder / f"callgrind.{pid}.1")


def summary(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("valgrind") is None:
        raise SystemExit("bench/instructions.py needs valgrind (apt-get install valgrind)")
    url = database_url_from_env()
    if is_sqlite(url):
        raise SystemExit("bench/instructions.py measures the PostgreSQL path: "
                         "set KASSA_DATABASE_URL to a PostgreSQL database")
    with tempfile.TemporaryDirectory(prefix="kassa-callgrind-") as folder:
        bot = Counted(Path(folder))
        async with fresh_database(url, "instructions") as fresh:
            booking = await webhook_run(fresh, args.passengers, 1, 1, "uvloop",
                                        under=bot.under(), start_seconds=START_SECONDS,
                                        begin=bot.begin, end=bot.end)
        echo = Counted(Path(folder))
        per_passenger = booking["updates"] // args.passengers
        baseline = await echo_webhook_run(args.passengers, per_passenger, "uvloop",
                                          under=echo.under(), start_seconds=START_SECONDS,
                                          begin=echo.begin, end=echo.end)
    kassa_per_update = bot.instructions / booking["updates"]
    echo_per_update = echo.instructions / baseline["updates"]
    print(f"booking, one webhook instance: {booking['updates']} updates, "
          f"{kassa_per_update / 1e6:.2f} million instructions per update")
    print(f"bare echo bot: {baseline['updates']} updates, "
          f"{echo_per_update / 1e6:.2f} million instructions per update")
    return {
        "database": "postgresql",
        "passengers": args.passengers,
        "updates": booking["updates"],
        "kassa_minstr_per_update": round(kassa_per_update / 1e6, 3),
        "echo_minstr_per_update": round(echo_per_update / 1e6, 3),
        "ratio_echo_vs_kassa_instructions": round(echo_per_update / kassa_per_update, 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passengers", type=int, default=20, help="booking at once")
    figures = event_loop.run(main(parser.parse_args()), "uvloop")
    print(json.dumps(figures))
