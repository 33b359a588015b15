"""searchkit's HTTP face, beside the CLI and the Python API: a JSON API whose answers are the
CLI's ``--json`` output, and a search page, over the public API only (``SearchIndex``).

``app`` builds the Starlette application (``create_app``); ``routes`` holds the table of API
endpoints, ``params`` their query parameters (built from searchkit/options.py's tables),
``openapi`` the description built from both, ``page`` the HTML page, ``errors`` the error
answers, and ``run`` starts uvicorn's workers and the watcher (``searchkit serve``).
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
