"""The OpenAPI 3 description of the JSON API (``GET /api/openapi.json``), built from the table
of endpoints (routes.ENDPOINTS) and their parameters, so that it describes what is served."""

from __future__ import annotations

import functools
from typing import Any

from .. import __version__
from .routes import ENDPOINTS, Endpoint

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}

_STATUS = {
    400: "A parameter is unknown, repeated, malformed or out of range, or searchkit refuses the query.",
    404: "No indexed item has this id or url.",
    503: "No index yet, a damaged index, or the answer took longer than the time limit.",
}

_ITEM = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The item's id (its path in the corpus) or url, percent-encoded.",
    "schema": {"type": "string"},
}


@functools.cache
def openapi() -> dict[str, Any]:
    """The description, as a JSON-ready dict."""
    paths = {endpoint.path: {"get": _operation(endpoint)} for endpoint in ENDPOINTS}
    paths["/healthz"] = {
        "get": {
            "operationId": "healthz",
            "summary": "Whether the index can be read.",
            "responses": {
                "200": _json("The index can be read.", {"type": "object"}),
                "503": _json(_STATUS[503], {"$ref": "#/components/schemas/Error"}),
            },
        }
    }
    paths["/api/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This description.",
            "responses": {"200": _json("OpenAPI 3 description.", {"type": "object"})},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "searchkit",
            "version": __version__,
            "description": (
                "Full-text search over a folder of news items. Each answer is the JSON that the "
                "`searchkit` command of the same name prints with --json; /api/search adds took_ms."
            ),
        },
        "paths": paths,
        "components": {"schemas": {"Error": _ERROR}},
    }


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    parameters = [_ITEM] if endpoint.item else []
    for parameter in endpoint.parameters:
        parameters.append(
            {
                "name": parameter.name,
                "in": "query",
                "required": parameter.required,
                "description": parameter.help,
                "schema": parameter.schema(),
                **({"style": "form", "explode": True} if parameter.repeat else {}),
            }
        )
    answer = f"The JSON of `searchkit {endpoint.command} --json`" + (
        " and took_ms." if endpoint.timed else "."
    )
    responses = {"200": _json(answer, {"type": "object"})}
    for status in endpoint.errors:
        responses[str(status)] = _json(_STATUS[status], {"$ref": "#/components/schemas/Error"})
    return {
        "operationId": endpoint.command,
        "summary": endpoint.summary,
        "parameters": parameters,
        "responses": responses,
    }


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}
