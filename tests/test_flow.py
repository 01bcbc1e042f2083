"""The booking flow's record as JSON (handlers/flow.py)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date

from handlers.flow import Flow, Step


def test_a_flow_round_trips_through_json_and_its_record_shares_no_list() -> None:
    flow = Flow.new()
    flow.step, flow.card, flow.origin, flow.destination = Step.NAMES, 42, "BJS", "TSN"
    flow.day, flow.month, flow.trip, flow.count = date(2026, 12, 5), date(2026, 12, 1), 7, 2
    flow.seats, flow.names, flow.saved = ["1A", "1B"], ["Li Lei"], ["Анна"]
    data = flow.to_data()
    expected = asdict(flow) | {"step": int(Step.NAMES), "day": "2026-12-05",
                               "month": "2026-12-01"}
    assert data == expected
    assert Flow.from_data(json.loads(json.dumps(data))) == flow
    data["seats"].append("2A")  # the stored record is a copy: the flow is not changed
    assert flow.seats == ["1A", "1B"]
