"""The OpenAPI 3.1 document of the booking HTTP API, generated from its operation table.

Nothing here is written by hand beside the code: paths and parameters come from
booking/http_contract.py, schemas from the pydantic models and the frozen dataclasses the
server serialises, so the document says what the server does.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from booking.http_contract import (
    ERROR_STATUSES,
    IDEMPOTENCY_HEADER,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    OPERATIONS,
    REPLAYED_HEADER,
    ErrorBody,
    Operation,
)

REF = "#/components/schemas/{model}"
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_REASONS = {
    400: "Malformed JSON or a bad Idempotency-Key",
    401: "No bearer token, or a wrong one",
    403: "Not the customer's order, or not staff",
    404: "No such station, trip, order or customer",
    409: "Seats no longer available, the customer's unpaid holds at their cap "
         "(too_many_holds), the order no longer in that state, or the same "
         "Idempotency-Key still being answered (request_in_progress)",
    413: "The body is over 64 KB",
    415: "A compressed body (Content-Encoding other than identity): send it plain",
    422: "A parameter or body the service refuses (unknown fields, wrong types, bad values)",
    503: "Busy: try again shortly",
}


def openapi_document(operations: tuple[Operation, ...] = OPERATIONS) -> dict[str, Any]:
    inputs: list[tuple[tuple[str, str], Any, TypeAdapter[Any]]] = [
        (("error", "answer"), "serialization", TypeAdapter(ErrorBody)),
    ]
    for operation in operations:
        inputs.append(((operation.name, "answer"), "serialization",
                       TypeAdapter(operation.answer)))
        if operation.body is not None:
            inputs.append(((operation.name, "body"), "validation", TypeAdapter(operation.body)))
    schemas, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.url_path, {})[operation.method.lower()] = _operation(
            operation, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kassa booking service",
            "version": "1",
            "description": "Stations, trip search, seat maps, holds, orders, payments, "
                           "cancellation and tickets. Every error is "
                           '{"error": {"code", "message", "params"}}.',
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(operation: Operation, schemas: dict[tuple[tuple[str, str], Any], Any]
               ) -> dict[str, Any]:
    answer = schemas[((operation.name, "answer"), "serialization")]
    responses: dict[str, Any] = {
        str(operation.status): {"description": operation.summary,
                                "content": {"application/json": {"schema": answer}}},
    }
    for status in ERROR_STATUSES:
        responses[str(status)] = {"description": _REASONS[status],
                                  "content": {"application/json": {"schema": ERROR_REF}}}
    document: dict[str, Any] = {
        "operationId": operation.name,
        "summary": operation.summary,
        "tags": [operation.tag],
        "parameters": [
            *_parameters(operation.path_params, "path"),
            *_parameters(operation.query, "query"),
        ],
        "responses": responses,
    }
    if operation.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {
                "schema": schemas[((operation.name, "body"), "validation")]}},
        }
    if operation.method == "POST":
        responses[str(operation.status)]["headers"] = {REPLAYED_HEADER: {
            "description": "true when this is the first answer given again, for an "
                           "Idempotency-Key seen before",
            "schema": {"type": "string", "enum": ["true"]}}}
        document["parameters"].append({
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": False,
            "description": "the same key with the same request replays the first answer; "
                           "with another request it is refused (422)",
            "schema": {"type": "string", "minLength": 1,
                       "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH, "pattern": "^[!-~]+$"},
        })
    return document


def _parameters(model: Any, where: str) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", ()))
    parameters = []
    for name, field_schema in schema["properties"].items():
        field_schema = dict(field_schema)
        field_schema.pop("title", None)
        field_schema.pop("default", None)
        # An optional parameter is left out, never sent as null: its schema is the value's.
        options = field_schema.pop("anyOf", None)
        if options is not None:
            field_schema.update(next(o for o in options if o.get("type") != "null"))
        parameters.append({"name": name, "in": where, "required": where == "path"
                           or name in required, "schema": field_schema})
    return parameters
