"""What the HTTP face answers when something goes wrong: a status and a JSON error object.

Every error is ``{"error": {"type": ..., "message": ...}}``, the message written for a person
(searchkit's own messages), never a traceback:

====== ==================== ===========================================================
status type                 when
====== ==================== ===========================================================
400    ``bad_parameter``    a parameter that is unknown, repeated, malformed or out of
                            range; a query, date, half-life or cursor searchkit refuses
404    ``not_found``        no item has that id or url; no such path
405    ``method_not_allowed`` a method other than GET or HEAD
503    ``no_index``         there is no index (yet) at the server's index directory
503    ``index_unavailable`` the index is damaged or from another searchkit version
503    ``timeout``          the answer took longer than the server's time limit
500    ``internal``         anything else (logged with its traceback on the server)
====== ==================== ===========================================================
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from .. import (
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    ItemNotFoundError,
    QueryError,
    SearchkitError,
)
from .params import ParameterError

logger = logging.getLogger("searchkit.server")


class QueryTimeoutError(Exception):
    """An answer took longer than the server's time limit (HTTP 503)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the search did not finish within {seconds:g} s and was abandoned; make the query more "
            "specific (a wildcard at the start of a word or a short prefix matches many words)"
        )


def describe(exc: Exception) -> tuple[int, str, str]:
    """(status, type, message) of an error."""
    if isinstance(exc, (ParameterError, QueryError)):
        return 400, "bad_parameter", str(exc)
    if isinstance(exc, ItemNotFoundError):
        return 404, "not_found", str(exc)
    if isinstance(exc, IndexNotFoundError):
        return 503, "no_index", str(exc)
    if isinstance(exc, (IndexCorruptError, IndexVersionError)):
        return 503, "index_unavailable", str(exc)
    if isinstance(exc, QueryTimeoutError):
        return 503, "timeout", str(exc)
    if isinstance(exc, HTTPException) and exc.status_code == 404:
        return 404, "not_found", "no such path; the API is described at /api/openapi.json"
    if isinstance(exc, HTTPException) and exc.status_code == 405:
        return 405, "method_not_allowed", "only GET and HEAD are allowed: nothing here changes the index"
    if isinstance(exc, HTTPException):
        return exc.status_code, "http_error", str(exc.detail)
    if isinstance(exc, SearchkitError):
        logger.error("searchkit error", exc_info=exc)
        return 500, "internal", str(exc)
    logger.error("unexpected error", exc_info=exc)
    return 500, "internal", "internal error; the server's log has the details"


def json_error(exc: Exception) -> JSONResponse:
    status, kind, message = describe(exc)
    headers = {"Retry-After": "1"} if kind == "timeout" else None
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status, headers=headers)
