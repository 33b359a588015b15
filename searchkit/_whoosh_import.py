"""Import Whoosh without the standard library's HTTP client.

``whoosh.compat`` does ``from urllib.request import urlretrieve`` at import time, for a helper
no part of Whoosh that searchkit uses calls. That one line imports ``urllib.request`` and with
it ``http.client``, ``ssl`` and ``email``: about 40 ms of every ``searchkit`` command's start-up.

While ``whoosh.compat`` loads, ``urllib.request`` is a stand-in module whose ``urlretrieve``
imports the real one when called; the stand-in is removed straight away, so any later
``import urllib.request`` (by searchkit's users, say) loads the real module as usual. If the
real module is already loaded, nothing is done.
"""

from __future__ import annotations

import sys
import types
from typing import Any

_NAME = "urllib.request"


def _urlretrieve(*args: Any, **kwargs: Any) -> Any:
    from urllib.request import urlretrieve

    return urlretrieve(*args, **kwargs)


def load_whoosh() -> None:
    """Import ``whoosh.compat`` (which every Whoosh module imports) the light way."""
    if "whoosh.compat" in sys.modules or _NAME in sys.modules:
        return
    stand_in = types.ModuleType(_NAME)
    stand_in.urlretrieve = _urlretrieve  # type: ignore[attr-defined]
    sys.modules[_NAME] = stand_in
    try:
        import whoosh.compat  # noqa: F401
    finally:
        if sys.modules.get(_NAME) is stand_in:
            del sys.modules[_NAME]
        urllib = sys.modules.get("urllib")
        if urllib is not None and getattr(urllib, "request", None) is stand_in:
            del urllib.request


load_whoosh()
