"""The unit of work: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from booking.ports import DuplicateKey, LockTimeout
from storage.customers import SqlCustomers
from storage.database import WRITE_OPTION, wait_for_write_turn
from storage.errors import is_duplicate_key, is_lock_contention
from storage.outbox import SqlOutbox
from storage.repositories import SqlCatalog, SqlInventory, SqlOrders, SqlPayments, on_driver


class SqlUnitOfWork:
    catalog: SqlCatalog
    inventory: SqlInventory
    orders: SqlOrders
    payments: SqlPayments
    customers: SqlCustomers
    outbox: SqlOutbox

    def __init__(
        self, engine: AsyncEngine, *, write: bool = False, cache_key: str | None = None
    ) -> None:
        self._engine = engine
        self._write = write
        self._cache_key = cache_key or str(engine.url)
        # Only SQLite's BEGIN looks at the option (BEGIN IMMEDIATE for a writer); setting
        # it elsewhere would cost a call on every unit of work for nothing.
        self._mark_write = write and engine.dialect.name == "sqlite"
        self._on_driver = engine.dialect.driver == "asyncpg"
        self._conn: AsyncConnection | None = None
        self._tx: AsyncTransaction | None = None
        self._driver: Any = None  # the asyncpg connection running the transaction
        self._turn: asyncio.Lock | None = None

    @property
    def connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._conn

    async def __aenter__(self) -> SqlUnitOfWork:
        self._turn = await wait_for_write_turn(self._engine) if self._mark_write else None
        try:
            return await self._begin()
        except BaseException:
            self._release_turn()
            raise

    def _release_turn(self) -> None:
        if self._turn is not None:
            self._turn.release()
            self._turn = None

    async def _begin(self) -> SqlUnitOfWork:
        conn = await self._engine.connect()
        if self._on_driver:
            await self._begin_on_driver(conn)
        else:
            try:
                if self._mark_write:
                    conn = await conn.execution_options(**{WRITE_OPTION: True})
                self._tx = await conn.begin()
            except DBAPIError as error:
                await conn.close()
                if is_lock_contention(error):
                    raise LockTimeout(str(error)) from error
                raise
        self._conn = conn
        driver = self._driver
        self.catalog = SqlCatalog(conn, self._cache_key, driver)
        self.inventory = SqlInventory(conn, driver)
        self.orders = SqlOrders(conn, driver)
        self.payments = SqlPayments(conn)
        self.customers = SqlCustomers(conn)
        self.outbox = SqlOutbox(conn)
        return self

    async def _begin_on_driver(self, conn: AsyncConnection) -> None:
        """PostgreSQL: run the transaction on the asyncpg connection itself.

        SQLAlchemy's own transaction handling is switched off for this checkout
        (AUTOCOMMIT: it sends no BEGIN or COMMIT of its own), so the statements sent
        through SQLAlchemy and those the hold path sends straight to asyncpg share one
        server transaction, begun here and ended by commit() or __aexit__.
        """
        try:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            driver: Any = (await conn.get_raw_connection()).driver_connection
            await on_driver(driver.execute("BEGIN"))
        except BaseException:
            await conn.invalidate()  # whatever state it is in, it is not pooled again
            await conn.close()
            raise
        self._driver = driver

    async def _end_on_driver(
        self, conn: AsyncConnection, driver: Any, failing: BaseException | None
    ) -> None:
        """Roll back what was not committed; a connection in doubt is not pooled again."""
        healthy = False
        try:
            if not driver.is_closed() and driver.is_in_transaction():
                await driver.execute("ROLLBACK")
            healthy = not driver.is_closed() and not driver.is_in_transaction()
        except Exception:
            # E.g. a cancelled statement still in progress: the connection is dropped
            # below, which ends the transaction; the error the body raised goes on.
            if failing is None:
                raise
        finally:
            if not healthy:
                await conn.invalidate()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, tx, driver = self._conn, self._tx, self._driver
        self._conn = self._tx = self._driver = None
        try:
            if driver is not None and conn is not None:
                await self._end_on_driver(conn, driver, exc)
            elif tx is not None and tx.is_active:
                await tx.rollback()
        finally:
            try:
                if conn is not None:
                    await conn.close()
            finally:
                self._release_turn()
        if exc is not None and is_lock_contention(exc):
            raise LockTimeout(str(exc)) from exc
        if exc is not None and is_duplicate_key(exc):
            raise DuplicateKey(str(exc)) from exc

    async def commit(self) -> None:
        if self._driver is not None:
            status = await on_driver(self._driver.execute("COMMIT"))
            if status != "COMMIT":  # the server ended a failed transaction with ROLLBACK
                raise RuntimeError(f"transaction not committed (the server said {status})")
            return
        if self._tx is None:
            raise RuntimeError("unit of work used outside 'async with'")
        try:
            await self._tx.commit()
        except DBAPIError as error:
            if is_lock_contention(error):
                raise LockTimeout(str(error)) from error
            raise


class SqlUnitOfWorkFactory:
    """Makes units of work on one engine; ``write=True`` for transactions that write."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._cache_key = str(engine.url)

    def __call__(self, *, write: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write=write, cache_key=self._cache_key)
