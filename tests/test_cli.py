"""The `kassa` command line: every command listed, each runs from its own module."""

from __future__ import annotations

import importlib
import io
import pkgutil
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
