"""What stops a server from starting is told on one line, with exit status 2: a database
that does not answer, a schema not migrated, a port taken, Telegram away. Real processes,
as an operator (or a supervisor restarting them) sees them."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from booking.tickets.codes import generate_signing_key
from bot.emulator import BotApiEmulator, EmulatorServer
from storage.migrate import schema_status
from storage.testing import create_postgres_database, drop_postgres_database
from tests.test_kassa_run import KASSA, clean_env, free_port, seeded_env


def settings(tmp_path: Path, **more: str) -> dict[str, str]:
    """Every setting a server needs, the database on SQLite in ``tmp_path`` unless given."""
    port = free_port()
    return clean_env(tmp_path, telegram_token="123456:ABCdef", secret_key="k" * 32,
                     payment_webhook_secret="w" * 32, ticket_signing_key=generate_signing_key(),
                     booking_api_token="t" * 32, http_port=str(port),
                     public_url="https://kassa.example", **more)


def kassa(env: dict[str, str], cwd: Path, *command: str) -> tuple[int, list[str]]:
    result = subprocess.run([*KASSA, *command], env=env, cwd=cwd, capture_output=True,
                            text=True, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "Unclosed" not in result.stderr, result.stderr[-2000:]
    return result.returncode, result.stderr.strip().splitlines()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on."""
    yield free_port()


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another process holds."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def migrated(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    assert kassa(env, tmp_path, "db", "upgrade")[0] == 0
    return env


@pytest.mark.parametrize("command", [["webhook"], ["run"], ["booking-api"], ["db", "upgrade"]],
                         ids=" ".join)
def test_a_database_that_does_not_answer(tmp_path, closed_port, command):
    url = f"postgresql+asyncpg://kassa:secret@127.0.0.1:{closed_port}/kassa"
    status, lines = kassa(settings(tmp_path, database_url=url), tmp_path, *command)
    assert status == 2
    [line] = lines
    assert line.startswith(f"kassa {' '.join(command)}: cannot reach the database "
                           f"postgresql+asyncpg://kassa:***@127.0.0.1:{closed_port}/kassa (")
    assert "secret" not in line


@pytest.mark.parametrize("command", ["webhook", "booking-api"])
def test_a_schema_not_migrated(tmp_path, command):
    status, lines = kassa(settings(tmp_path), tmp_path, command)
    assert (status, lines) == (2, [f"kassa {command}: the database schema is not up to date; "
                                   "run `kassa db upgrade`"])


@pytest.mark.parametrize("missing", ["secret_key", "payment_webhook_secret",
                                     "ticket_signing_key"])
def test_the_booking_api_needs_the_bots_secrets(tmp_path, missing):
    # A key made for the process would sign tickets that read "forged" after a restart,
    # and checkout links the bot's web server cannot check.
    env = migrated(tmp_path, settings(tmp_path))
    del env[f"KASSA_{missing.upper()}"]
    status, lines = kassa(env, tmp_path, "booking-api", "--port", "0")
    assert status == 2
    [line] = lines
    assert line.startswith(f"kassa booking-api: KASSA_{missing.upper()} is not set")


def test_the_booking_api_refuses_a_signing_key_that_is_not_one(tmp_path):
    env = migrated(tmp_path, settings(tmp_path))
    env["KASSA_TICKET_SIGNING_KEY"] = "garbage"
    status, lines = kassa(env, tmp_path, "booking-api", "--port", "0")
    assert status == 2
    [line] = lines
    assert line.startswith("kassa booking-api: ") and "KASSA_TICKET_SIGNING_KEY" in line


def test_telegram_that_does_not_answer(tmp_path, closed_port):
    env = migrated(tmp_path, settings(
        tmp_path, telegram_api_url=f"http://127.0.0.1:{closed_port}"))
    status, lines = kassa(env, tmp_path, "webhook")
    assert status == 2
    [line] = lines
    assert line.startswith("kassa webhook: cannot reach Telegram's Bot API (")
    assert "123456:ABCdef" not in line


def test_a_port_another_process_holds(tmp_path, taken_port):
    env = migrated(tmp_path, settings(tmp_path))
    status, lines = kassa(env, tmp_path, "booking-api", "--port", str(taken_port))
    assert status == 2
    [line] = lines
    assert line.startswith(f"kassa booking-api: cannot listen on 127.0.0.1:{taken_port} (")


async def test_a_webhook_port_another_process_holds(tmp_path, taken_port):
    emulator = BotApiEmulator()
    async with EmulatorServer(emulator) as server:
        env = await seeded_env(tmp_path, emulator, server, taken_port)
        process = await asyncio.create_subprocess_exec(
            *KASSA, "webhook", env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert "Traceback" not in err.decode() and "Unclosed" not in err.decode()
    [line] = err.decode().strip().splitlines()
    assert line.startswith(f"kassa webhook: cannot listen on 127.0.0.1:{taken_port} (")


def test_a_schema_a_newer_release_migrated(tmp_path):
    env = migrated(tmp_path, settings(tmp_path))
    with sqlite3.connect(tmp_path / "kassa.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    for command in (["booking-api"], ["db", "upgrade"]):
        status, lines = kassa(env, tmp_path, *command)
        assert status == 2
        [line] = lines
        assert line.startswith(f"kassa {' '.join(command)}: the database schema is newer than "
                               "this release of Kassa")


def test_two_upgrades_at_once_on_an_empty_postgresql_database(tmp_path, postgres_url):
    # Two instances' start-up scripts may migrate at the same moment: the second waits
    # for the first, then finds the schema current.
    from tests.conftest import POSTGRES_ADMIN_URL

    url = asyncio.run(create_postgres_database(POSTGRES_ADMIN_URL, "two_upgrades"))
    try:
        env = settings(tmp_path, database_url=url)
        upgrades = [subprocess.Popen([*KASSA, "db", "upgrade"], env=env, cwd=tmp_path,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for _ in range(2)]
        results = [(p.returncode, err) for p in upgrades
                   for _, err in [p.communicate(timeout=120)]]
        assert [status for status, _ in results] == [0, 0], results
        assert all("Traceback" not in err for _, err in results)
        assert asyncio.run(schema_status(url)) == "current"
    finally:
        asyncio.run(drop_postgres_database(POSTGRES_ADMIN_URL, url))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("command", [["webhook"], ["booking-api", "--port", "0"]], ids=" ".join)
def test_a_stop_while_starting_is_one_line_and_exit_0(tmp_path, command, signum):
    # A database that takes the connection and never answers: the server is still
    # checking its schema when it is told to stop.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        url = f"postgresql+asyncpg://kassa@127.0.0.1:{port}/kassa"
        process = subprocess.Popen([*KASSA, *command], env=settings(tmp_path, database_url=url),
                                   cwd=tmp_path, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        connection, _ = silent.accept()  # it has started and waits for the database
        with connection:
            process.send_signal(signum)
            out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert len((out + err).strip().splitlines()) == 1 and "stopped" in out
