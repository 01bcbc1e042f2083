"""Tickets: PDFs rendered per second per core and their size; signing and verifying codes.

    .venv/bin/python bench/tickets.py [--seconds 10]

Renders one passenger's ticket PDF after another in this one process (one core) for
``--seconds``, cycling through passengers named in Latin, Chinese and Cyrillic script with a
fresh signed code each, as the ticket use case will. The rate is per CPU second of this
process (time.process_time), so other work on the machine does not lower it; the wall-clock
rate is printed beside it. The first PDF is timed on its own: it parses the font files.
No database is needed for this half; the other (bench/webhooks.py) measures signed payment
webhooks on the PostgreSQL database KASSA_DATABASE_URL names.

Figures go to stdout; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.webhooks import webhook_figures
from booking.tickets.codes import (
    TicketClaims,
    TicketSigner,
    generate_signing_key,
    initials,
    load_signing_key,
)
from booking.tickets.document import TicketDocument
from booking.tickets.ics import render_trip_ics
from booking.tickets.pdf import render_ticket_pdf

PDF_TARGET_PER_S = 50
PDF_LIMIT_KB = 100

PASSENGERS = ("Anna Lee", "王小明", "Иван Петров", "María José García-Núñez", "李静怡")
TRIPS = (
    ("北京南站", "天津站", "Asia/Shanghai", "Asia/Shanghai", "CN¥54.50"),
    ("Москва, Ленинградский вокзал", "Санкт-Петербург", "Europe/Moscow", "Europe/Moscow",
     "4 250,00 ₽"),
    ("Berlin Hbf", "Praha hl.n.", "Europe/Berlin", "Europe/Prague", "€39.90"),
)


def ticket_documents(signer: TicketSigner, count: int) -> list[TicketDocument]:
    """``count`` different tickets: names, stations and codes vary as in real orders."""
    docs = []
    combos = itertools.cycle(itertools.product(PASSENGERS, TRIPS))
    for number in range(count):
        name, (origin, destination, tz_from, tz_to, price) = next(combos)
        seat = f"{number % 12 + 1}{'ABCD'[number % 4]}"
        reference = f"K{number:05d}X"
        code = signer.sign(
            TicketClaims(str(100_000 + number), reference, 4711 + number, seat, 0, 3,
                         initials(name), date(2026, 12, 25), datetime.now(UTC))
        )
        docs.append(
            TicketDocument(
                operator="Kassa Coach Lines", booking_reference=reference, passenger=name,
                route_name=f"{origin} – {destination}", origin=origin,
                destination=destination,
                departure=datetime(2026, 12, 25, 6, 0, tzinfo=ZoneInfo(tz_from)),
                arrival=datetime(2026, 12, 25, 11, 40, tzinfo=ZoneInfo(tz_to)),
                seat=seat, price=price, code=code,
            )
        )
    return docs


def rate(func: Any, items: list[Any], seconds: float) -> tuple[int, float, float]:
    """Call ``func`` on the items in turn for about ``seconds``: (calls, cpu s, wall s)."""
    calls = 0
    cpu, wall = time.process_time(), time.perf_counter()
    for item in itertools.cycle(items):
        func(item)
        calls += 1
        if calls % 10 == 0 and time.perf_counter() - wall >= seconds:
            break
    return calls, time.process_time() - cpu, time.perf_counter() - wall


def ticket_figures(seconds: float) -> dict[str, float]:
    """The ticket half of issue 7's bench: PDFs, calendar files and codes."""
    signer = TicketSigner(load_signing_key(generate_signing_key()))
    docs = ticket_documents(signer, 60)

    start = time.perf_counter()
    render_ticket_pdf(docs[0])
    first_ms = (time.perf_counter() - start) * 1000

    sizes = [len(render_ticket_pdf(doc)) / 1024 for doc in docs[:15]]
    pdfs, pdf_cpu, pdf_wall = rate(render_ticket_pdf, docs, seconds)
    ics, ics_cpu, _ = rate(lambda d: render_trip_ics([d], datetime.now(UTC)), docs, 1)
    claims = [signer.verifier().verify(doc.code) for doc in docs]
    signed, sign_cpu, _ = rate(signer.sign, [replace(c) for c in claims], 1)
    verifier = signer.verifier()
    verified, verify_cpu, _ = rate(verifier.verify, [doc.code for doc in docs], 1)

    figures = {
        "pdfs_per_s": round(pdfs / pdf_cpu, 1),
        "pdfs_per_s_wall": round(pdfs / pdf_wall, 1),
        "pdf_ms": round(pdf_cpu / pdfs * 1000, 2),
        "pdf_kb": round(statistics.mean(sizes), 1),
        "pdf_kb_max": round(max(sizes), 1),
        "first_pdf_ms": round(first_ms, 1),
        "ics_per_s": round(ics / ics_cpu, 1),
        "codes_signed_per_s": round(signed / sign_cpu),
        "codes_verified_per_s": round(verified / verify_cpu),
        "code_chars": round(statistics.mean(len(doc.code) for doc in docs), 1),
    }
    print(f"ticket PDFs: {figures['pdfs_per_s']}/s per core (CPU time; "
          f"{figures['pdfs_per_s_wall']}/s wall), {figures['pdf_ms']} ms each; "
          f"target >= {PDF_TARGET_PER_S}/s")
    print(f"PDF size: {figures['pdf_kb']} KB mean, {figures['pdf_kb_max']} KB max "
          f"(limit {PDF_LIMIT_KB} KB); first PDF {figures['first_pdf_ms']} ms "
          "(parses the fonts)")
    print(f"calendar files: {figures['ics_per_s']}/s; codes: "
          f"{figures['codes_signed_per_s']}/s signed, {figures['codes_verified_per_s']}/s "
          f"verified, {figures['code_chars']} characters")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="PDF rendering time")
    parser.add_argument("--webhook-seconds", type=float, default=8.0,
                        help="holds placed before they are paid by webhook")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    figures.update(ticket_figures(args.seconds))
    # The other half: signed webhook confirmations per second on PostgreSQL, beside the
    # hold rate of the same run (bench/webhooks.py).
    figures.update(asyncio.run(webhook_figures(seconds=args.webhook_seconds)))
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
