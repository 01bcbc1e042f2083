"""The unit of work: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

import asyncio
from types import TracebackType

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from booking.ports import DuplicateKey
from booking.read_memo import forget_reads
from storage.customers import SqlCustomers
from storage.database import WRITE_OPTION, wait_for_write_turn, without_transactions
from storage.errors import is_duplicate_key, lock_timeout
from storage.outbox import SqlOutbox
from storage.payments import SqlPayments
from storage.pg_fastpath import (
    InOrder,
    PgCatalog,
    PgCustomers,
    PgInventory,
    PgOrders,
    PgOutbox,
    PgPayments,
    PgTickets,
    PgTransaction,
)
from storage.repositories import SqlCatalog, SqlInventory, SqlOrders
from storage.staff_actions import SqlStaffActions
from storage.tickets import SqlTickets


class SqlUnitOfWork:
    catalog: SqlCatalog
    inventory: SqlInventory
    orders: SqlOrders
    payments: SqlPayments
    customers: SqlCustomers
    outbox: SqlOutbox
    tickets: SqlTickets
    staff_actions: SqlStaffActions

    def __init__(
        self, engine: AsyncEngine, *, write: bool = False, cache_key: str | None = None,
        autocommit_engine: AsyncEngine | None = None, one_statement: bool = False,
    ) -> None:
        self._engine = engine
        self._write = write
        self._one_statement = one_statement
        self._cache_key = cache_key or str(engine.url)
        # Only SQLite's BEGIN looks at the option (BEGIN IMMEDIATE for a writer); setting
        # it elsewhere would cost a call on every unit of work for nothing.
        self._mark_write = write and engine.dialect.name == "sqlite"
        self._on_asyncpg = engine.dialect.driver == "asyncpg"
        # On asyncpg the transaction is begun and ended on asyncpg itself (PgTransaction):
        # its connections come in AUTOCOMMIT, so that SQLAlchemy sends no BEGIN of its own.
        self._connect_via = engine
        if self._on_asyncpg:
            self._connect_via = autocommit_engine or without_transactions(engine)
        self._conn: AsyncConnection | None = None
        self._tx: AsyncTransaction | None = None  # SQLAlchemy's, or...
        self._pg: PgTransaction | None = None  # ...the one run on asyncpg (pg_fastpath)
        self._turn: asyncio.Lock | None = None

    @property
    def connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._conn

    async def __aenter__(self) -> SqlUnitOfWork:
        if self._write:
            forget_reads()  # what the update read before may be about to change
        self._turn = await wait_for_write_turn(self._engine) if self._mark_write else None
        try:
            conn = await self._connect_via.connect()
            try:
                await self._begin(conn)
            except BaseException:
                await conn.close()
                raise
        except BaseException as error:
            self._release_turn()
            timeout = lock_timeout(error)
            if timeout is None:
                raise
            raise timeout from error
        return self

    async def _begin(self, conn: AsyncConnection) -> None:
        if self._on_asyncpg:
            pg = self._pg = await PgTransaction.begin(conn, reading=not self._write,
                                                      one_statement=self._one_statement)
            # The repositories' statements through SQLAlchemy first send the writes held
            # back (storage/pg_held_writes.py); so do those sent straight to asyncpg.
            in_order = InOrder(conn, pg).as_connection()
            self.catalog = PgCatalog(in_order, self._cache_key, pg)
            self.inventory = PgInventory(in_order, pg)
            self.orders = PgOrders(in_order, pg)
            self.outbox = PgOutbox(in_order, pg)
            self.payments = PgPayments(in_order, pg)
            self.tickets = PgTickets(in_order, pg)
            self.customers = PgCustomers(in_order, pg)
            self.staff_actions = SqlStaffActions(in_order)
        else:
            if self._mark_write:
                conn = await conn.execution_options(**{WRITE_OPTION: True})
            self._tx = await conn.begin()
            self.catalog = SqlCatalog(conn, self._cache_key)
            self.inventory = SqlInventory(conn)
            self.orders = SqlOrders(conn)
            self.outbox = SqlOutbox(conn)
            self.payments = SqlPayments(conn)
            self.tickets = SqlTickets(conn)
            self.customers = SqlCustomers(conn)
            self.staff_actions = SqlStaffActions(conn)
        self._conn = conn

    def _release_turn(self) -> None:
        if self._turn is not None:
            self._turn.release()
            self._turn = None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, tx, pg = self._conn, self._tx, self._pg
        self._conn = self._tx = self._pg = None
        if self._write:
            forget_reads()  # ...and read in the meantime, by whatever ran alongside
        # Each step runs even if the one before raised (or was cancelled): the write turn
        # is passed on only after the connection, and with it any transaction, is gone.
        try:
            if pg is not None:
                await pg.end(exc)
            elif tx is not None and tx.is_active:
                await tx.rollback()
        finally:
            try:
                if conn is not None:
                    await conn.close()
            finally:
                self._release_turn()
        if exc is not None:
            timeout = lock_timeout(exc)
            if timeout is not None:
                raise timeout from exc
            if is_duplicate_key(exc):
                raise DuplicateKey(str(exc)) from exc

    async def commit(self) -> None:
        if self._pg is not None:
            await self._pg.commit()
            return
        if self._tx is None:
            raise RuntimeError("unit of work used outside 'async with'")
        try:
            await self._tx.commit()
        except DBAPIError as error:
            timeout = lock_timeout(error)
            if timeout is None:
                raise
            raise timeout from error


class SqlUnitOfWorkFactory:
    """Makes units of work on one engine; ``write=True`` for transactions that write."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._cache_key = str(engine.url)
        self._autocommit = (without_transactions(engine)
                            if engine.dialect.driver == "asyncpg" else None)

    def __call__(self, *, write: bool = False, one_statement: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write=write, cache_key=self._cache_key,
                             autocommit_engine=self._autocommit, one_statement=one_statement)
