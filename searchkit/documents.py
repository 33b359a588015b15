"""Reading news items: corpus walking and front-matter parsing.

A corpus is a folder searched recursively for ``*.md``, ``*.markdown`` and ``*.txt`` files
(hidden files and folders skipped). Each file is YAML front matter plus an optional Markdown
body. Parsing is lenient about what real feeds do (missing fields, numbers as strings, ``null``,
a BOM, CRLF, dates with offsets or without seconds) and strict about what cannot be trusted:
such a file raises ``DocumentError`` with its path and a one-line reason.

This is the only module that imports ``frontmatter`` and ``yaml``. YAML is always loaded with a
safe loader, libyaml's ``CSafeLoader`` when present (several times faster than pure Python).
"""

from __future__ import annotations

import math
import os
import stat
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from .corpus import file_kind
from .errors import DocumentError
from .models import Image, NewsItem, Provider, RelatedLink, parse_datetime

try:  # pragma: no branch - depends on how PyYAML was built
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader  # type: ignore[assignment]


#: Files larger than this are skipped (a news item is a few KiB; this guards memory).
MAX_FILE_BYTES = 5 * 1024 * 1024

#: The numbers the index stores (quality, heat) are signed 32-bit integers.
INDEXED_INT_RANGE = (-(2**31), 2**31 - 1)

#: Front matter whose structure, aliases expanded, exceeds this many values is rejected
#: (a YAML "billion laughs" alias bomb expands exponentially).
MAX_YAML_NODES = 20_000

_HANDLER = YAMLHandler()
_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0", ""}


def read_item_bytes(path: str | Path, ident: str) -> bytes:
    """The bytes of a news-item file: a regular file only (a FIFO or a device is never read,
    so nothing waits or reads for ever), and no more than ``MAX_FILE_BYTES`` of it. Raises
    ``DocumentError``."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise DocumentError(ident, f"cannot read file: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        mode = info.st_mode
        if not stat.S_ISREG(mode):
            raise DocumentError(ident, f"not a regular file ({file_kind(mode)}): not read")
        chunks = []
        left = MAX_FILE_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise DocumentError(ident, f"cannot read file: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        size = max(info.st_size, len(data))
        raise DocumentError(
            ident, f"file is larger than the {MAX_FILE_BYTES // (1024 * 1024)} MiB limit ({size} bytes)"
        )
    return data


def item_id(path: Path, root: Path) -> str:
    """The id of the item in ``path``: its path relative to ``root``, POSIX separators."""
    return path.relative_to(root).as_posix()


def read_file(path: str | Path, root: str | Path | None = None) -> NewsItem:
    """Parse one file into a ``NewsItem``; its id is the path relative to ``root``.

    Raises ``DocumentError`` for anything that cannot be indexed.
    """
    path = Path(path)
    ident = item_id(path, Path(root)) if root is not None else path.name
    return parse_bytes(read_item_bytes(path, ident), ident)


def parse_bytes(data: bytes, ident: str) -> NewsItem:
    """Parse the raw bytes of a news-item file (see ``parse_text``)."""
    if len(data) > MAX_FILE_BYTES:
        raise DocumentError(
            ident, f"file is larger than the {MAX_FILE_BYTES // (1024 * 1024)} MiB limit ({len(data)} bytes)"
        )
    if b"\x00" in data[:8192]:
        raise DocumentError(ident, "binary file (contains NUL bytes), not a news item")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DocumentError(ident, f"not valid UTF-8: byte 0x{data[exc.start]:02x} at line {line}") from exc
    return parse_text(text, ident)


def parse_text(text: str, ident: str) -> NewsItem:
    """Parse the text of a news-item file: YAML front matter between ``---`` lines, then body.

    ``ident`` becomes the item's id and names the file in errors.
    """
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    stripped = text.lstrip()
    lead_lines = text[: len(text) - len(stripped)].count("\n")
    if not _HANDLER.detect(stripped):
        raise DocumentError(ident, "no front matter (the file must start with a '---' line)")
    # The opening boundary pattern (r"^-{3,}\s*$") also swallows blank lines after '---'.
    opening = _HANDLER.FM_BOUNDARY.match(stripped)
    lead_lines += stripped[: opening.end()].count("\n") if opening else 0
    try:
        front, body = _HANDLER.split(stripped)
    except ValueError:
        raise DocumentError(ident, "front matter is not closed by a '---' line") from None
    try:
        meta = _HANDLER.load(front, Loader=SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # The front matter text starts on the opening '---' line; marks count lines from 0.
        line = lead_lines + (mark.line + 1 if mark is not None else 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise DocumentError(ident, f"invalid YAML at line {line}: {problem}") from exc
    except yaml.reader.ReaderError as exc:  # str(exc) spans two lines and gives a byte offset
        line = lead_lines + front[: max(front.find(chr(exc.character)), 0)].count("\n") + 1
        raise DocumentError(
            ident, f"invalid YAML at line {line}: unacceptable character #x{exc.character:04x}: {exc.reason}"
        ) from exc
    except yaml.YAMLError as exc:
        raise DocumentError(ident, f"invalid YAML: {exc}") from exc
    except RecursionError as exc:
        raise DocumentError(ident, "invalid YAML: nested too deeply") from exc
    except ValueError as exc:  # PyYAML's constructors, e.g. a date 2021-02-30, a 5,000-digit int
        raise DocumentError(ident, f"invalid YAML value: {exc}") from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise DocumentError(ident, f"front matter must be a mapping of fields, not a {_kind(meta)}")
    _check_size(meta, ident)
    try:
        return item_from_mapping(meta, body.strip("\n"), ident)
    except ValueError as exc:  # str() of a 0x/0b integer past Python's 4300-digit limit
        raise DocumentError(ident, f"a field value cannot be read: {exc}") from exc


def item_from_mapping(meta: dict[Any, Any], body: str, ident: str) -> NewsItem:
    """Build a ``NewsItem`` from front-matter fields (as the feed names them) and a body.

    Raises ``DocumentError`` when a field has a type that cannot be coerced.
    """
    f = _Fields(meta, ident)
    title = f.text("title")
    if not title.strip():
        raise DocumentError(ident, "missing required field 'title'")
    return NewsItem(
        id=ident,
        title=title.strip(),
        url=f.text("webUrl").strip(),
        original_url=f.text("originalUrl").strip(),
        amp_url=f.text("ampWebUrl").strip(),
        cdn_amp_url=f.text("cdnAmpWebUrl").strip(),
        excerpt=f.text("excerpt").strip(),
        body=body,
        category=f.text("category").strip(),
        type=f.text("type").strip(),
        topics=f.topics("topics"),
        provider=f.provider("provider"),
        published_at=f.datetime("publishedDateTime"),
        quality=f.integer("quality", indexed=True),
        heat=_or(f.integer("heat", indexed=True), -1),
        published=f.boolean("published", default=True),
        images=f.images("images"),
        related=f.related("related"),
    )


class _Fields:
    """Typed access to front-matter fields, raising ``DocumentError`` that names the field."""

    def __init__(self, meta: dict[Any, Any], ident: str, where: str = "") -> None:
        self.meta = meta
        self.ident = ident
        self.where = where

    def error(self, key: str, expected: str, value: Any) -> DocumentError:
        shown = repr(value) if not isinstance(value, (dict, list)) else f"a {_kind(value)}"
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return DocumentError(self.ident, f"field '{self.where}{key}': expected {expected}, got {shown}")

    def text(self, key: str) -> str:
        value = self.meta.get(key)
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float, datetime, date)):
            return str(value)
        raise self.error(key, "text", value)

    def integer(self, key: str, *, indexed: bool = False) -> int | None:
        """The field as an int (None when missing); an ``indexed`` one must fit the index's
        numbers (``INDEXED_INT_RANGE``)."""
        number = self._integer(key)
        low, high = INDEXED_INT_RANGE
        if indexed and number is not None and not low <= number <= high:
            raise self.error(key, f"an integer from {low} to {high}", self.meta.get(key))
        return number

    def _integer(self, key: str) -> int | None:
        value = self.meta.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool):
            raise self.error(key, "an integer", value)
        if isinstance(value, int):
            return value
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise self.error(key, "an integer", value) from None
        if not math.isfinite(number) or number != int(number):
            raise self.error(key, "an integer", value)
        return int(number)

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self.meta.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
        raise self.error(key, "true or false", value)

    def datetime(self, key: str) -> datetime | None:
        value = self.meta.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            return parse_datetime(value)
        except OverflowError:
            shown = value.isoformat() if isinstance(value, (datetime, date)) else str(value)
            raise DocumentError(
                self.ident,
                f"field '{self.where}{key}': {shown} is out of range once converted to UTC (years 1 to 9999)",
            ) from None
        except ValueError:
            raise self.error(key, "an ISO 8601 date", value) from None

    def topics(self, key: str) -> tuple[str, ...]:
        value = self.meta.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            values: list[Any] = value.split(",")
        elif isinstance(value, list):
            values = value
        else:
            raise self.error(key, "a list of topics", value)
        seen: dict[str, str] = {}
        for entry in values:
            if entry is None:
                continue
            if isinstance(entry, (dict, list)):
                raise self.error(key, "a list of topics", value)
            topic = " ".join(str(entry).split())
            if topic and topic.casefold() not in seen:
                seen[topic.casefold()] = topic
        return tuple(seen.values())

    def mapping(self, key: str) -> _Fields | None:
        value = self.meta.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(key, "a mapping", value)
        return _Fields(value, self.ident, f"{self.where}{key}.")

    def provider(self, key: str) -> Provider:
        value = self.meta.get(key)
        if isinstance(value, str):
            return Provider(name=value.strip())
        sub = self.mapping(key)
        if sub is None:
            return Provider()
        return Provider(name=sub.text("name").strip(), domain=sub.text("domain").strip().lower())

    def entries(self, key: str) -> list[_Fields]:
        value = self.meta.get(key)
        if value is None:
            return []
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            raise self.error(key, "a list", value)
        result = []
        for number, entry in enumerate(value):
            if entry is None:
                continue
            if not isinstance(entry, dict):
                raise self.error(f"{key}[{number}]", "a mapping", entry)
            result.append(_Fields(entry, self.ident, f"{self.where}{key}[{number}]."))
        return result

    def images(self, key: str) -> tuple[Image, ...]:
        images = []
        for entry in self.entries(key):
            url = entry.text("url").strip()
            if url:
                images.append(
                    Image(
                        url=url,
                        width=entry.integer("width"),
                        height=entry.integer("height"),
                        is_cached=entry.boolean("isCached", default=False)
                        if entry.meta.get("isCached") is not None
                        else None,
                    )
                )
        return tuple(images)

    def related(self, key: str) -> tuple[RelatedLink, ...]:
        links = []
        for entry in self.entries(key):
            title = entry.text("title").strip()
            url = entry.text("webUrl").strip()
            if not (title or url):
                continue
            links.append(
                RelatedLink(
                    title=title or url,
                    url=url,
                    excerpt=entry.text("excerpt").strip(),
                    published_at=entry.datetime("publishedDateTime"),
                    type=entry.text("type").strip(),
                    provider=entry.provider("provider"),
                    quality=entry.integer("quality"),
                    amp_url=entry.text("ampWebUrl").strip(),
                    cdn_amp_url=entry.text("cdnAmpWebUrl").strip(),
                    images=entry.images("images"),
                )
            )
        return tuple(links)


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _kind(value: Any) -> str:
    names: dict[type, str] = {dict: "mapping", list: "list", str: "string"}
    return names.get(type(value), type(value).__name__)


def _check_size(meta: Any, ident: str) -> None:
    """Reject front matter that expands (through YAML aliases) beyond ``MAX_YAML_NODES``."""
    budget = MAX_YAML_NODES
    stack = [meta]
    while stack:
        value = stack.pop()
        budget -= 1
        if budget < 0:
            raise DocumentError(
                ident, f"front matter expands to more than {MAX_YAML_NODES} values (YAML alias bomb?)"
            )
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
