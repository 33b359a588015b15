"""Postings read in bulk (searchkit/postings.py) against Whoosh's own reading and scoring.

The ranking of word queries, their match sets and related items rest on these: a term's
documents, its BM25 scores and the field lengths must be exactly what Whoosh's matchers and
scorer give, over several segments and with deleted items.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from conftest import write_item
from whoosh import query
from whoosh.columns import VarBytesColumn
from whoosh.filedb.structfile import StructFile

from searchkit import NewsItem, SearchIndex
from searchkit.models import Duplicate
from searchkit.ordering import positions
from searchkit.postings import Norms, Postings, bm25_scores, duplicate_urls
from searchkit.whoosh_internals.postings import MappedTerms, column_values, field_lengths, live_documents

WORDS = ["harbour", "storm", "vote", "market", "airship"]


@pytest.fixture
def searcher(tmp_path: Path) -> Iterator[Any]:
    """The Whoosh searcher of an index of four segments, one with deletions, whose items hold
    the words of WORDS in every combination, repeated and with texts of different lengths."""
    texts = {}
    for k in range(1, 2 ** len(WORDS)):
        words = [w for bit, w in enumerate(WORDS) if k >> bit & 1]
        texts[f"n{k}"] = " ".join(words * (1 + k % 3)) + " filler" * (k % 7)
    with SearchIndex.create(tmp_path / "index") as index:
        keys = sorted(texts)
        for start in range(0, len(keys), 8):  # one commit (segment) each
            index.add_items(
                [NewsItem(id=key, title=f"item {key}", body=texts[key]) for key in keys[start : start + 8]]
            )
        assert index.remove([key for key in keys[:8] if int(key[1:]) % 3 == 0])
        reader = index._read()
        whoosh_searcher = reader._refresh()
        assert len(whoosh_searcher.reader().leaf_readers()) >= 3
        assert whoosh_searcher.reader().has_deletions()
        yield whoosh_searcher


@pytest.mark.parametrize("field", ["content", "title"])
@pytest.mark.parametrize("word", [*WORDS, "item", "filler", "absent"])
def test_term_postings_and_scores_are_whooshs(searcher: Any, field: str, word: str) -> None:
    postings = Postings(searcher.reader())
    expected = searcher.search(query.Term(field, word), limit=None)
    wanted = {expected.docnum(i): expected.score(i) for i in range(expected.scored_length())}

    assert positions(postings.bits(field, word)) == sorted(wanted)
    found = bm25_scores(searcher, Norms(), postings, field, word)
    assert found is not None
    docs, scores = found
    assert list(docs) == sorted(docs)
    assert dict(zip(docs, scores, strict=True)) == wanted  # to the bit

    boosted = bm25_scores(searcher, Norms(), postings, field, word, boost=2.5)
    expected = searcher.search(query.Term(field, word, boost=2.5), limit=None)
    assert boosted is not None
    assert dict(zip(*boosted, strict=True)) == {
        expected.docnum(i): expected.score(i) for i in range(expected.scored_length())
    }


def test_fields_whoosh_does_not_score_with_bm25_are_left_to_whoosh(searcher: Any) -> None:
    assert bm25_scores(searcher, Norms(), Postings(searcher.reader()), "topic", "x") is None


def test_field_lengths_are_whooshs(searcher: Any) -> None:
    for segment, _offset in searcher.reader().leaf_readers():
        for field in ("content", "title", "excerpt"):
            assert field_lengths(segment, field) == [
                segment.doc_field_length(doc, field, 0) or 0 for doc in range(segment.doc_count_all())
            ]


def test_postings_kept_in_a_cache_are_read_once_per_generation(
    searcher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import searchkit.postings as postings_module
    from searchkit.cache import Cache
    from searchkit.postings import postings_weight

    read: list[str] = []
    blocks = postings_module.term_blocks

    def counted(segment: Any, fieldname: str, text: Any) -> Any:
        read.append(text)
        return blocks(segment, fieldname, text)

    monkeypatch.setattr(postings_module, "term_blocks", counted)
    segments = len(searcher.reader().leaf_readers())
    cache: Cache[Any, Any] = Cache(10_000, weigh=postings_weight)
    first = Postings(searcher.reader(), cache, 1).segments("content", "storm")
    assert len(read) == segments
    again = Postings(searcher.reader(), cache, 1).segments("content", "storm")
    assert again == first and len(read) == segments  # the same generation: not read again
    Postings(searcher.reader(), cache, 2).segments("content", "storm")
    assert len(read) == 2 * segments  # another state of the index: read again
    expected = Postings(searcher.reader()).segments("content", "storm")
    assert [(o, list(i), list(w)) for _, o, i, w in first] == [
        (o, list(i), list(w)) for _, o, i, w in expected
    ]


# -- columns, deletions and term counts read in bulk --------------------------------------------


def test_whole_columns_and_live_documents_are_whooshs(searcher: Any) -> None:
    for segment, _offset in searcher.reader().leaf_readers():
        size = segment.doc_count_all()
        assert list(live_documents(segment)) == list(segment.all_doc_ids())
        for field in ("id", "manifest", "fingerprint", "published_at"):
            column = segment.column_reader(field, translate=False)
            assert column_values(column, size) == [column[doc] for doc in range(size)]


@pytest.mark.parametrize("cutoff", [2, 2**15])  # offsets written to the file, or made from lengths
def test_a_column_of_bytes_is_read_whole_as_whoosh_reads_each_value(cutoff: int) -> None:
    values = {0: b"first", 1: b"", 3: "caf\u00e9".encode(), 4: b"x" * 300, 7: b"last"}
    handle = BytesIO()
    column = VarBytesColumn(write_offsets_cutoff=cutoff)
    writer = column.writer(StructFile(handle))
    for doc, value in values.items():
        writer.add(doc, value)
    writer.finish(9)  # two documents after the last value, which have none
    data = handle.getvalue()
    reader = column.reader(StructFile(BytesIO(data)), 0, len(data), 9)
    assert reader.had_stored_offsets == (cutoff == 2)
    expected = [values.get(doc, b"") for doc in range(9)]
    assert [reader[doc] for doc in range(9)] == expected
    assert column_values(reader, 9) == expected
    assert column_values(reader, 5) == expected[:5]


URL_TABLE = {  # update -> {item id: url}; a later update rewrites the file of the same id
    0: {"a": "u/one", "b": "u/one", "c": "u/two", "d": "u/three", "e": "u/four", "f": "u/five"},
    1: {"g": "u/two", "h": "u/six", "i": "u/six", "j": "u/seven"},
    2: {"c": "u/eight", "k": "u/three", "l": "u/four"},
}
REMOVED = ["d", "h"]  # with the last update


@pytest.fixture(params=["files", "api"])
def url_reader(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The Whoosh reader of an index of URL_TABLE, a segment per update, with REMOVED and the
    replaced versions deleted from earlier segments: made from corpus files (segments of plain
    files, whose term files are mapped) or with ``add_items`` (compound segments, read through
    Whoosh)."""
    index = SearchIndex.create(tmp_path / "index")
    corpus = tmp_path / "corpus"
    for update in sorted(URL_TABLE):
        table = URL_TABLE[update]
        gone = REMOVED if update == max(URL_TABLE) else []
        if request.param == "files":
            for ident, url in table.items():
                write_item(corpus, {"id": f"{ident}.md", "title": f"item {ident} {update}", "webUrl": url})
            for ident in gone:
                (corpus / f"{ident}.md").unlink()
            assert index.update(corpus).ok
        else:
            items = [NewsItem(id=f"{i}.md", title=f"item {i} {update}", url=url) for i, url in table.items()]
            index.add_items(items)
            assert index.remove([f"{ident}.md" for ident in gone]) == len(gone)
    reader = index._read()._refresh().reader()
    assert len(reader.leaf_readers()) == len(URL_TABLE)
    assert all(segment.has_deletions() for segment, _ in reader.leaf_readers()[:2])
    yield reader
    index.close()


def test_url_counts_are_whooshs_term_infos(url_reader: Any) -> None:
    for segment, _offset in url_reader.leaf_readers():
        expected = [(text, info.doc_frequency()) for text, info in segment.iter_field("url")]
        terms = MappedTerms(segment)
        try:
            assert (terms._map is not None) == (not segment.segment().is_compound())
            assert list(terms.doc_frequencies("url")) == expected
            assert list(terms.doc_frequencies("title_words")) != []
            assert list(terms.doc_frequencies("related_url")) == []  # a field no item fills
        finally:
            terms.close()


def test_duplicate_urls_count_only_live_items(url_reader: Any) -> None:
    live: dict[str, str] = {}
    for update in sorted(URL_TABLE):
        live.update(URL_TABLE[update])
    for ident in REMOVED:
        del live[ident]
    by_url: dict[str, list[str]] = {}
    for ident, url in live.items():
        by_url.setdefault(url, []).append(f"{ident}.md")
    expected = tuple(
        Duplicate(url, tuple(sorted(ids))) for url, ids in sorted(by_url.items()) if len(ids) > 1
    )
    assert duplicate_urls(url_reader) == expected
    # Written down: u/one (a and b, in one segment), u/four (e and l, in two); not u/two (c's
    # version with it is deleted), u/three (d removed) or u/six (h removed).
    assert expected == (Duplicate("u/four", ("e.md", "l.md")), Duplicate("u/one", ("a.md", "b.md")))
