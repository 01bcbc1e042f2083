"""Table definitions.

Plain Core tables rather than ORM classes: the domain objects live in booking/ as
frozen dataclasses, and the repositories map rows to them explicitly, which keeps the
hold path to a few compiled statements with no identity map in the way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

stations = Table(
    "stations",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("names", JSON, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("lat", Float),
    Column("lon", Float),
    Column("popularity", Integer, nullable=False, server_default="0"),
)

seat_layouts = Table(
    "seat_layouts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("rows", Integer, nullable=False),
    Column("columns", String(16), nullable=False),
    Column("seat_class", String(32), nullable=False),
    Column("missing", JSON, nullable=False),
)

routes = Table(
    "routes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(128), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("agency", String(200), nullable=False, server_default=""),
    Column("currency", String(3), nullable=False),
)

route_stops = Table(
    "route_stops",
    metadata,
    Column("route_id", ForeignKey("routes.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("station_code", ForeignKey("stations.code"), nullable=False),
    Column("arrive_offset", Integer, nullable=False),
    Column("depart_offset", Integer, nullable=False),
    Column("fare_offset", Integer, nullable=False),
    Index("ix_route_stops_station", "station_code", "route_id", "seq"),
)

# Explicit prices for a stop interval; without one the price is the fare_offset difference.
fares = Table(
    "fares",
    metadata,
    Column("route_id", ForeignKey("routes.id", ondelete="CASCADE"), primary_key=True),
    Column("from_seq", Integer, primary_key=True),
    Column("to_seq", Integer, primary_key=True),
    Column("amount", Integer, nullable=False),
    CheckConstraint("from_seq < to_seq", name="segment_order"),
    CheckConstraint("amount >= 0", name="amount_positive"),
)

trips = Table(
    "trips",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("route_id", ForeignKey("routes.id"), nullable=False),
    Column("service_date", Date, nullable=False),
    Column("departure_at", UTCDateTime, nullable=False),
    Column("layout_id", ForeignKey("seat_layouts.id"), nullable=False),
    Column("status", String(16), nullable=False, server_default="scheduled"),
    Column("delay_minutes", Integer, nullable=False, server_default="0"),
    Column("status_reason", Text),
    # Where the trip came from (e.g. a GTFS trip id and service day), so a re-import
    # finds the trip it made before instead of making another.
    Column("source_key", String(255), nullable=False, unique=True),
    Index("ix_trips_route_departure", "route_id", "departure_at"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # Telegram user id
    Column("name", String(200), nullable=False, server_default=""),
    Column("language", String(8)),
    Column("role", String(16), nullable=False, server_default="passenger"),
    # The role an admin granted in the bot; ``role`` is the one in force (see Customer).
    Column("granted_role", String(16), nullable=False, server_default="passenger"),
    Column("blocked", Boolean, nullable=False, server_default=text("false")),
    Column("saved_passengers", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("customer_id", BigInteger, nullable=False, index=True),
    Column("trip_id", ForeignKey("trips.id"), nullable=False, index=True),
    Column("from_seq", Integer, nullable=False),
    Column("to_seq", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("refund_amount", Integer),
    Column("payment_reference", String(255)),
    # The client's idempotency key for the hold: the same key twice returns the same order.
    Column("request_key", String(64)),
    CheckConstraint("from_seq < to_seq", name="segment_order"),
    UniqueConstraint("customer_id", "request_key", name="uq_orders_customer_request"),
    Index("ix_orders_held_expiry", "expires_at", postgresql_where=text("status = 'held'"),
          sqlite_where=text("status = 'held'")),
)

# One row per passenger and seat of an order. ``live`` rows are what inventory counts:
# a held seat until ``held_until`` passes, a paid seat (held_until NULL) until cancelled.
allocations = Table(
    "allocations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("trip_id", ForeignKey("trips.id"), nullable=False),
    Column("seat", String(8), nullable=False),
    Column("passenger", String(200), nullable=False),
    Column("from_seq", Integer, nullable=False),
    Column("to_seq", Integer, nullable=False),
    Column("live", Boolean, nullable=False),
    Column("held_until", UTCDateTime),
    CheckConstraint("from_seq < to_seq", name="segment_order"),
    # Only live rows are ever searched, so the index stays as small as the live inventory.
    Index("ix_allocations_live_trip", "trip_id", "from_seq", "to_seq",
          postgresql_where=text("live"), sqlite_where=text("live")),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False, index=True),
    Column("provider", String(32), nullable=False),
    Column("reference", String(255), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Set when the money went back through the provider (a refund it confirmed).
    Column("refund_reference", String(255)),
    Column("refunded_amount", BigInteger),
    Column("refunded_at", UTCDateTime),
    UniqueConstraint("provider", "reference", name="uq_payments_provider_reference"),
)

# Every event a payment provider sent us, by its own id: a webhook delivered twice is one row,
# written in the transaction of the order change it caused.
payment_events = Table(
    "payment_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("provider", String(32), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("type", String(32), nullable=False),
    Column("order_id", ForeignKey("orders.id"), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("provider", "event_id", name="uq_payment_events_provider_event"),
)

# One ticket per passenger and seat of a paid order; its code is signed when rendered.
tickets = Table(
    "tickets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False, index=True),
    Column("seat", String(8), nullable=False),
    Column("passenger", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # valid | used | void
    Column("issued_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
    Column("used_by", BigInteger),  # the staff member who checked it in
)

order_events = Table(
    "order_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("detail", JSON, nullable=False),
)

# Every staff action (a delay, a cancelled trip, a broadcast, a role given): who did what to
# which target, and when; written in the transaction of the action itself.
staff_actions = Table(
    "staff_actions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("staff_id", BigInteger, nullable=False, index=True),
    Column("action", String(32), nullable=False),
    Column("target", String(64), nullable=False),  # a trip id, a user id, a broadcast id
    Column("detail", JSON, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

# Telegram updates taken in webhook mode, by update_id: Telegram delivers again what it
# thinks was not received, and a replay must not be handled twice. Pruned after a day.
webhook_updates = Table(
    "webhook_updates",
    metadata,
    Column("update_id", BigInteger, primary_key=True, autoincrement=False),
    Column("received_at", UTCDateTime, nullable=False, index=True),
)

# A staff broadcast: the text as sent, to whom (the audience chosen), how many people.
broadcasts = Table(
    "broadcasts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("staff_id", BigInteger, nullable=False),
    Column("audience", JSON, nullable=False),
    Column("text", Text, nullable=False),
    Column("total", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Everything that must reach a person (or run after a commit) is first a row here, written in
# the transaction of the change that causes it; a worker delivers due rows and marks them.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("recipient", BigInteger),  # a customer id, where the message is for a person
    Column("payload", JSON, nullable=False),
    # The same message asked for twice (a sweep that runs again, say) is one row.
    Column("dedupe_key", String(128), unique=True),
    Column("due_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    # A worker that claimed the row owns it until then; after, another may take it over.
    Column("claimed_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime),
    # The broadcast a row is part of (its progress is counted by this), if any.
    Column("broadcast_id", Integer, index=True),
    # Of a message sent in parts (a ticket set: its card, each PDF, the .ics), the parts
    # an attempt that then failed had already sent: the next attempt starts after them.
    Column("parts_sent", Integer, nullable=False, server_default="0"),
    Index("ix_outbox_pending_due", "due_at", "id", postgresql_where=text("status = 'pending'"),
          sqlite_where=text("status = 'pending'")),
    # A person's own messages, claimed before any broadcast's (storage/outbox.py).
    Index("ix_outbox_pending_due_own", "due_at", "id",
          postgresql_where=text("status = 'pending' AND broadcast_id IS NULL"),
          sqlite_where=text("status = 'pending' AND broadcast_id IS NULL")),
)

# The conversation state of the bot (python-telegram-bot persistence), one row per key.
bot_state = Table(
    "bot_state",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("data", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Changed by every write: a write names the version it was based on and is refused
    # if the row has moved on since (storage/bot_state.py), never a silent overwrite.
    Column("version", BigInteger, nullable=False, server_default="0"),
    Index("ix_bot_state_kind_updated_at", "kind", "updated_at"),
)


# Idempotency keys of the booking HTTP API (booking/idempotency.py): the first answer to a
# POST, replayed when the same key comes again. status is NULL while it is being answered.
api_idempotency = Table(
    "api_idempotency",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status", Integer),
    Column("body", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    Index("ix_api_idempotency_created_at", "created_at"),
)

def utcnow() -> datetime:
    return datetime.now(UTC)
