"""Whoosh's ``AndNotMatcher``, mended (it overrides the matcher's private stepping methods)."""

from __future__ import annotations

from typing import Any

from whoosh.matching import AndNotMatcher


class MendedAndNotMatcher(AndNotMatcher):  # type: ignore[misc]  # Whoosh ships no type hints
    """Whoosh's AndNotMatcher, mended: at the start it only checks whether both sides stand on
    the same document, without first moving the excluded side up to the first candidate, so
    a segment's first match is kept even when it holds an excluded word (``airship NOT vote``
    found an item with both words)."""

    def _find_first(self) -> None:
        self._find_next()

    def _find_next(self) -> bool:
        pos: Any = self.a
        neg: Any = self.b
        moved = False
        while pos.is_active() and neg.is_active():
            pos_id = pos.id()
            if neg.id() < pos_id:
                neg.skip_to(pos_id)
                if not neg.is_active():
                    break
            if neg.id() != pos_id:
                break
            moved = bool(pos.next()) or moved
        return moved
