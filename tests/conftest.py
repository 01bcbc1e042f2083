"""Fixtures: every database test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.service import BookingService
from booking.settings import BookingRules
from storage.database import create_engine
from storage.migrate import upgrade_sync
from storage.repositories import clear_caches
from storage.testing import create_postgres_database, drop_postgres_database, empty_all_tables
from storage.uow import SqlUnitOfWorkFactory

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_ADMIN_URL = os.environ.get("KASSA_TEST_DATABASE_URL", "")


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (migrating once is faster)."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade_sync(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database of this test session's own."""
    if not POSTGRES_ADMIN_URL:
        if IN_CI:
            pytest.fail("CI=true but KASSA_TEST_DATABASE_URL is not set")
        pytest.skip("KASSA_TEST_DATABASE_URL is not set")
    try:
        url = asyncio.run(create_postgres_database(POSTGRES_ADMIN_URL))
    except Exception as error:  # whatever stops us reaching the server
        if IN_CI:
            pytest.fail(f"PostgreSQL at KASSA_TEST_DATABASE_URL is unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable: {error}")
    upgrade_sync(url)
    yield url
    asyncio.run(drop_postgres_database(POSTGRES_ADMIN_URL, url))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of either kind."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    template: Path = request.getfixturevalue("sqlite_template")
    path = tmp_path / "kassa.db"
    shutil.copy(template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database."""
    engine = create_engine(database_url, pool_size=20)
    await empty_all_tables(engine)
    clear_caches()
    yield engine
    await engine.dispose()


@pytest.fixture
async def postgres_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty PostgreSQL database, for tests about PostgreSQL itself."""
    engine = create_engine(postgres_url, pool_size=20)
    await empty_all_tables(engine)
    clear_caches()
    yield engine
    await engine.dispose()


@pytest.fixture
def uow_factory(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    """Units of work on the test database."""
    return SqlUnitOfWorkFactory(engine)


@pytest.fixture
def clock() -> FakeClock:
    """A clock set to a fixed morning, moved by hand."""
    return FakeClock(datetime(2026, 6, 1, 4, 0, tzinfo=UTC))  # 06:00 in Berlin


@pytest.fixture
def service(uow_factory: SqlUnitOfWorkFactory, clock: FakeClock) -> BookingService:
    """The booking service on the test database with the fake clock."""
    return BookingService(uow_factory, rules=BookingRules(), clock=clock)


# The conversation tests run with the bot calling the booking service in-process on both
# databases, and once more through the booking HTTP API and its client, on PostgreSQL
# (the production pairing); HTTP on SQLite too would add run time and cover nothing new.
BOOKING_TRANSPORTS = [("sqlite", "in-process"), ("postgres", "in-process"),
                      ("postgres", "http")]


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A parametrize mark (not a call): pytest then leaves database_url's own params out.
    if "booking_transport" in metafunc.fixturenames:
        metafunc.definition.add_marker(pytest.mark.parametrize(
            ("database_url", "booking_transport"), BOOKING_TRANSPORTS,
            indirect=["database_url"],
            ids=[f"{db}-{transport}" for db, transport in BOOKING_TRANSPORTS]))
