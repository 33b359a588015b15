"""The baseline of the benchmark suite: plain Whoosh as its documentation teaches, same fields.

- Schema: ``title``/``excerpt``/``body`` TEXT with ``StemmingAnalyzer``, ``topics`` KEYWORD
  (commas, lowercase, scorable), ``provider`` ID, ``published_at`` DATETIME and ``quality``/``heat``
  NUMERIC (all sortable, as the docs advise for fields one sorts or facets on), stored fields for
  display, plus the docs' incremental-indexing recipe fields (``path`` unique, ``mtime`` stored).
  ``body`` is stored because ``more_like`` needs the field stored or vectored.
- Build: python-frontmatter per file, one writer, ``add_document`` per item, one ``commit``.
- Queries: ``MultifieldParser`` over title/excerpt/body (title boost 2, ``OrGroup``), filters
  with ``filter=``, sorting with ``sortedby=``, facets with ``groupedby=`` (``FieldFacet`` with
  ``allow_overlap=True`` for topics, ``DateRangeFacet`` by year), ``more_like`` for related items.
- Incremental: the docs' recipe: walk the stored fields, ``delete_by_term`` for files that are
  gone, ``update_document`` for files whose mtime is newer, ``add_document`` for new files.

It also has a command line, the whole-process counterpart of ``searchkit search``:

    python benchmarks/baseline.py search --index-dir DIR "query"
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from whoosh import index, sorting
from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.qparser import MultifieldParser, OrGroup
from whoosh.query import And, DateRange, Every, NumericRange, Term
from whoosh.support.relativedelta import relativedelta

#: Beside the Whoosh files: the year range of the items, for the year facet's buckets.
YEARS_FILE = "years.json"


def make_schema() -> Schema:
    return Schema(
        path=ID(stored=True, unique=True),
        url=ID(stored=True),
        title=TEXT(analyzer=StemmingAnalyzer(), stored=True),
        excerpt=TEXT(analyzer=StemmingAnalyzer(), stored=True),
        body=TEXT(analyzer=StemmingAnalyzer(), stored=True),
        topics=KEYWORD(commas=True, lowercase=True, scorable=True, stored=True),
        provider=ID(stored=True, sortable=True),
        published_at=DATETIME(stored=True, sortable=True),
        quality=NUMERIC(stored=True, sortable=True),
        heat=NUMERIC(stored=True, sortable=True),
        mtime=STORED,
    )


def corpus_files(root: Path) -> list[str]:
    """Paths of the ``*.md`` files under ``root``, relative to it, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".md"):
                found.append(os.path.relpath(os.path.join(dirpath, name), root))
    return found


def read_document(root: Path, rel: str) -> dict[str, Any]:
    """The Whoosh document for one file."""
    import frontmatter  # only the write side parses files

    path = root / rel
    post = frontmatter.load(str(path))
    meta = post.metadata
    doc: dict[str, Any] = {
        "path": rel,
        "url": str(meta.get("webUrl") or ""),
        "title": str(meta.get("title") or ""),
        "excerpt": str(meta.get("excerpt") or ""),
        "body": post.content,
        "topics": ",".join(str(t) for t in meta.get("topics") or []),
        "provider": str((meta.get("provider") or {}).get("name") or ""),
        "mtime": os.path.getmtime(path),
    }
    published = meta.get("publishedDateTime")
    if isinstance(published, datetime):
        # Whoosh's DATETIME takes naive datetimes.
        if published.tzinfo is not None:
            published = published.astimezone(timezone.utc).replace(tzinfo=None)
        doc["published_at"] = published
    elif isinstance(published, date):
        doc["published_at"] = datetime(published.year, published.month, published.day)
    for name in ("quality", "heat"):
        if isinstance(meta.get(name), int):
            doc[name] = meta[name]
    return doc


def _write_years(index_dir: Path, years: set[int]) -> None:
    old = _read_years(index_dir)
    years = years | ({old[0], old[1]} if old else set())
    if years:
        (index_dir / YEARS_FILE).write_text(json.dumps([min(years), max(years)]))


def _read_years(index_dir: Path) -> tuple[int, int] | None:
    try:
        low, high = json.loads((index_dir / YEARS_FILE).read_text())
    except FileNotFoundError:
        return None
    return int(low), int(high)


def build(corpus: Path, index_dir: Path) -> int:
    """Index every file of ``corpus`` into a new index in ``index_dir``; returns the item count."""
    index_dir.mkdir(parents=True, exist_ok=True)
    ix = index.create_in(str(index_dir), make_schema())
    writer = ix.writer()
    years = set()
    count = 0
    for rel in corpus_files(corpus):
        doc = read_document(corpus, rel)
        if "published_at" in doc:
            years.add(doc["published_at"].year)
        writer.add_document(**doc)
        count += 1
    writer.commit()
    _write_years(index_dir, years)
    return count


def incremental(corpus: Path, index_dir: Path) -> dict[str, int]:
    """The docs' incremental-indexing recipe; returns how many items were added/updated/deleted."""
    ix = index.open_dir(str(index_dir))
    indexed = set()
    to_index = set()
    deleted = added = updated = 0
    years = set()
    with ix.searcher() as searcher:
        writer = ix.writer()
        for fields in searcher.all_stored_fields():
            rel = fields["path"]
            indexed.add(rel)
            full = corpus / rel
            if not full.exists():
                writer.delete_by_term("path", rel)
                deleted += 1
            elif os.path.getmtime(full) > fields["mtime"]:
                to_index.add(rel)
        for rel in corpus_files(corpus):
            if rel in to_index:
                doc = read_document(corpus, rel)
                writer.update_document(**doc)
                updated += 1
            elif rel not in indexed:
                doc = read_document(corpus, rel)
                writer.add_document(**doc)
                added += 1
            else:
                continue
            if "published_at" in doc:
                years.add(doc["published_at"].year)
        writer.commit()
    _write_years(index_dir, years)
    return {"added": added, "updated": updated, "deleted": deleted, "documents": ix.doc_count()}


class Session:
    """An open index and one searcher kept for many searches, as the docs recommend."""

    def __init__(self, index_dir: Path) -> None:
        self.ix = index.open_dir(str(index_dir))
        self.searcher = self.ix.searcher()
        self.parser = MultifieldParser(
            ["title", "excerpt", "body"], self.ix.schema, fieldboosts={"title": 2.0}, group=OrGroup
        )
        # The parser's default grouping, AND, as the docs teach it: for the queries drawn from
        # single titles (benchmarks/corpora.py, title_queries).
        self.and_parser = MultifieldParser(
            ["title", "excerpt", "body"], self.ix.schema, fieldboosts={"title": 2.0}
        )
        years = _read_years(index_dir) or (1970, 1970)
        self.year_facet = sorting.DateRangeFacet(
            "published_at",
            datetime(years[0], 1, 1),
            datetime(years[1] + 1, 1, 1),
            relativedelta(years=1),
            maptype=sorting.Count,
        )

    def close(self) -> None:
        self.searcher.close()

    def search(
        self,
        text: str,
        *,
        topic: str | None = None,
        provider: str | None = None,
        min_quality: int | None = None,
        since: str | None = None,
        until: str | None = None,
        sort: str | None = None,
        facets: bool = False,
        limit: int = 10,
        group: str = "or",
    ) -> dict[str, Any]:
        """Top ``limit`` hits (stored fields), the total, and facet counts when asked; words
        joined by OR, or by AND with ``group="and"``."""
        parser = self.and_parser if group == "and" else self.parser
        q = parser.parse(text) if text.strip() else Every()
        filters = []
        if topic:
            filters.append(Term("topics", topic.lower()))
        if provider:
            filters.append(Term("provider", provider))
        if min_quality is not None:
            filters.append(NumericRange("quality", min_quality, None))
        if since or until:
            start = datetime.fromisoformat(since) if since else None
            end = datetime.fromisoformat(until) + timedelta(days=1, microseconds=-1) if until else None
            filters.append(DateRange("published_at", start, end))
        kwargs: dict[str, Any] = {}
        if filters:
            kwargs["filter"] = And(filters) if len(filters) > 1 else filters[0]
        if sort == "heat":
            kwargs["sortedby"] = sorting.FieldFacet("heat", reverse=True)
        elif sort == "newest" or not text.strip():
            kwargs["sortedby"] = sorting.FieldFacet("published_at", reverse=True)
        if facets:
            kwargs["groupedby"] = {
                "topics": sorting.FieldFacet("topics", allow_overlap=True, maptype=sorting.Count),
                "provider": sorting.FieldFacet("provider", maptype=sorting.Count),
                "year": self.year_facet,
            }
        results = self.searcher.search(q, limit=limit, **kwargs)
        out: dict[str, Any] = {"total": len(results), "hits": [hit.fields() for hit in results]}
        if facets:
            counted = {}
            for name in ("topics", "provider", "year"):
                groups = results.groups(name)
                top = sorted(groups.items(), key=lambda kv: -kv[1])[:10]
                if name == "year":
                    top = [(key[0].year if isinstance(key, tuple) else key, n) for key, n in top]
                counted[name] = top
            out["facets"] = counted
        return out

    def related(self, path: str, limit: int = 10) -> list[dict[str, Any]]:
        docnum = self.searcher.document_number(path=path)
        if docnum is None:
            raise KeyError(path)
        return [hit.fields() for hit in self.searcher.more_like(docnum, "body", top=limit)]


def main() -> None:
    parser = argparse.ArgumentParser(description="Plain Whoosh baseline of the benchmarks.")
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser("search", help="Search the index, print the top 10.")
    search.add_argument("query")
    search.add_argument("--index-dir", type=Path, required=True)
    args = parser.parse_args()
    session = Session(args.index_dir)
    try:
        found = session.search(args.query)
    finally:
        session.close()
    print(f"{found['total']} hits")
    for rank, hit in enumerate(found["hits"], start=1):
        print(f"{rank:>3}. {hit['title']}")
        print(f"     {hit.get('provider', '')} · {hit.get('published_at', '')} · {hit.get('url', '')}")


if __name__ == "__main__":
    main()
