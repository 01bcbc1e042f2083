"""The `kassa` command line: every command listed, each runs from its own module."""

from __future__ import annotations

import importlib
import io
import os
import pkgutil
import signal
import subprocess
import sys

import pytest

import bot.cli
from bot.cli import COMMANDS, build_parser, main
from tests.test_gtfs import SAMPLE_ZIP

SUPPORT_MODULES = {"arguments"}  # modules of bot/cli/ that are not commands


@pytest.fixture
def workdir(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """An empty working directory (no .env) whose kassa.db the commands use."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KASSA_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/kassa.db")
    return tmp_path


def test_every_command_module_is_listed_once() -> None:
    files = {info.name for info in pkgutil.iter_modules(bot.cli.__path__)} - SUPPORT_MODULES
    modules = [importlib.import_module(f"bot.cli.{name}") for name in sorted(files)]
    assert sorted(map(id, COMMANDS)) == sorted(map(id, modules))
    names = [command.NAME for command in COMMANDS]
    assert len(set(names)) == len(names)
    assert {"demo", "db", "import-gtfs", "seed-demo"} <= set(names)


def test_help_loads_neither_the_database_nor_the_bot() -> None:
    program = (
        "import sys; from bot.cli import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in ('sqlalchemy', 'telegram', 'aiohttp', 'storage') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_arguments_are_checked_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["seed-demo", "--days", "0"])
    assert "must be 1 or more" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["import-gtfs", "feed.zip", "--shift-to", "tomorrow"])
    assert "not a date" in capsys.readouterr().err


def test_db_upgrade_seed_and_import(workdir, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["seed-demo", "--days", "1"]) == 0
    assert "demo network: 21 stations" in capsys.readouterr().out
    assert main(["import-gtfs", str(SAMPLE_ZIP), "--shift-to", "2026-06-01", "--days", "2"]) == 0
    assert f"imported {SAMPLE_ZIP}" in capsys.readouterr().out
    assert main(["import-gtfs", str(workdir / "missing.zip")]) == 2
    assert "feed refused" in capsys.readouterr().err


def test_demo_runs_from_its_command(workdir, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("/help\n"))
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "Seeded the demo network" in out and out.rstrip().endswith("bye")


def test_db_upgrade_says_what_it_did(workdir, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    created = capsys.readouterr().out.strip()
    assert created.startswith("created the schema (migration ")
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == created.replace("created the schema",
                                                              "database is up to date")


def test_a_schema_from_a_newer_release_is_one_line_for_every_command(
        workdir, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    with sqlite3.connect(workdir / "kassa.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0099'")
    for command, argv in (("db upgrade", ["db", "upgrade"]),
                          ("seed-demo", ["seed-demo", "--days", "1"]),
                          ("import-gtfs", ["import-gtfs", str(SAMPLE_ZIP), "--shift-to",
                                           "2026-06-01"])):
        assert main(argv) == 2
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"kassa {command}: ") and "newer" in line


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("KASSA_DATABASE_URL", "mysql://kassa@db/kassa",
         "Kassa runs on PostgreSQL (postgresql+asyncpg://...) or SQLite"),
        ("KASSA_DATABASE_URL", "kassa.db", "'kassa.db' is not a database URL"),
        ("KASSA_STAFF_IDS", "12345,abc", "'abc' is not a Telegram user id"),
        ("KASSA_REFUND_POLICY", "garbage", "'garbage' is not a refund policy like 24:100,2:50"),
        ("KASSA_REFUND_POLICY", "24:150", "'24:150' is not a refund policy"),
    ],
)
def test_a_setting_that_is_wrong_is_named_in_one_line(
        workdir, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        name: str, value: str, said: str) -> None:
    monkeypatch.setenv(name, value)
    assert main(["db", "upgrade"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"kassa: {name}: {said}")
    assert "Value error" not in line


def test_the_database_url_hosts_give_is_run_on_the_async_driver(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import Settings

    for given, used in (("postgresql://kassa@db/kassa", "postgresql+asyncpg://kassa@db/kassa"),
                        ("postgres://kassa@db/kassa", "postgresql+asyncpg://kassa@db/kassa"),
                        ("sqlite:///kassa.db", "sqlite+aiosqlite:///kassa.db"),
                        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db")):
        monkeypatch.setenv("KASSA_DATABASE_URL", given)
        assert Settings(_env_file=None).database_url == used


def test_output_cut_short_by_its_reader_ends_quietly() -> None:
    """`kassa keygen | head -1`: the reader goes away (here before the first line, which the
    starting process cannot beat); no traceback, and the status a closed pipe gives any
    Unix tool."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())",
         "keygen"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": "."})
    assert process.stdout is not None and process.stderr is not None
    with process.stdout, process.stderr:
        process.stdout.close()
        assert process.wait(timeout=30) == 128 + signal.SIGPIPE
        assert process.stderr.read() == b""
