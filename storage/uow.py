"""The unit of work: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from booking.ports import LockTimeout
from storage.customers import SqlCustomers
from storage.database import WRITE_OPTION
from storage.errors import is_lock_contention
from storage.repositories import SqlCatalog, SqlInventory, SqlOrders, SqlPayments


class SqlUnitOfWork:
    catalog: SqlCatalog
    inventory: SqlInventory
    orders: SqlOrders
    payments: SqlPayments
    customers: SqlCustomers

    def __init__(
        self, engine: AsyncEngine, *, write: bool = False, cache_key: str | None = None
    ) -> None:
        self._engine = engine
        self._write = write
        self._cache_key = cache_key or str(engine.url)
        # Only SQLite's BEGIN looks at the option (BEGIN IMMEDIATE for a writer); setting
        # it elsewhere would cost a call on every unit of work for nothing.
        self._mark_write = write and engine.dialect.name == "sqlite"
        self._conn: AsyncConnection | None = None
        self._tx: AsyncTransaction | None = None

    @property
    def connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._conn

    async def __aenter__(self) -> SqlUnitOfWork:
        conn = await self._engine.connect()
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
        self.catalog = SqlCatalog(conn, self._cache_key)
        self.inventory = SqlInventory(conn)
        self.orders = SqlOrders(conn)
        self.payments = SqlPayments(conn)
        self.customers = SqlCustomers(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, tx = self._conn, self._tx
        self._conn = self._tx = None
        try:
            if tx is not None and tx.is_active:
                await tx.rollback()
        finally:
            if conn is not None:
                await conn.close()
        if exc is not None and is_lock_contention(exc):
            raise LockTimeout(str(exc)) from exc

    async def commit(self) -> None:
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
