"""The tables of searchkit/options.py are the one definition of filters, facets and sorts: the
API's parameters, the CLI's options and choices, the queries and the facet counts all come from
them, so that a new filter or facet is one entry."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

import pytest
from conftest import ITEMS, run_cli

from searchkit import QueryError, SearchIndex
from searchkit import options as options_module
from searchkit.facets import FacetCounter
from searchkit.options import (
    FACET_NAMES,
    FACETS,
    FILTER_PARAMS,
    FILTERS,
    MAX_LIMIT,
    SORTS,
    FacetKind,
    FacetSpec,
    FilterArguments,
    Filters,
    FilterSpec,
    Kind,
    Param,
)
from searchkit.schema import F


def test_filter_arguments_list_every_filter_parameter_in_order() -> None:
    assert list(typing.get_type_hints(FilterArguments, include_extras=False)) == list(FILTER_PARAMS)


def test_search_shows_one_keyword_only_parameter_per_filter_parameter() -> None:
    parameters = inspect.signature(SearchIndex.search).parameters
    for name in FILTER_PARAMS:
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters[name].default is None


def test_search_rejects_a_keyword_that_is_no_filters() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'topic'"):
        Filters.from_arguments({"topic": "x"})


def test_the_cli_has_an_option_per_filter_parameter_and_the_tables_choices(index_dir: Path) -> None:
    result = run_cli("search", "--help")
    assert result.code == 0
    for spec in FILTERS:
        for param in spec.params:
            assert param.option in result.stdout
    assert "|".join(SORTS) in result.stdout
    assert "|".join(FACET_NAMES) in result.stdout
    assert f"1<=x<={MAX_LIMIT}" in result.stdout


@pytest.mark.parametrize("spec", FILTERS, ids=lambda spec: spec.name)
def test_each_filter_is_reachable_from_the_cli_as_from_the_api(index_dir: Path, spec: FilterSpec) -> None:
    values = {Kind.ANY_OF: "Energy", Kind.EQUALS: "news", Kind.DATE_RANGE: "2021-01-01", Kind.AT_LEAST: "50"}
    param = spec.params[0]
    api_value: object = values[spec.kind]
    if spec.kind is Kind.AT_LEAST:
        api_value = int(values[spec.kind])
    with SearchIndex.open(index_dir) as index:
        expected = index.search("", limit=100, **{param.name: api_value}).to_dict()  # type: ignore[misc]
    result = run_cli(
        "search", "--json", "--limit", "100", param.option, values[spec.kind], "--index-dir", index_dir
    )
    assert result.code == 0, result.stderr
    assert result.json == expected
    assert expected["total"] < len(ITEMS)  # the filter did narrow the search


def test_a_facet_is_counted_from_its_entry_alone(index: SearchIndex) -> None:
    # A facet the table does not have, made of one entry: the domains of the providers.
    domains = FacetSpec("domain", F.DOMAIN, FacetKind.TERMS, "providers")
    reader = index._read()
    searcher = reader._refresh()
    counter = FacetCounter(reader._caches)
    everything = (1 << searcher.doc_count_all()) - 1
    counted = counter.count(searcher.reader(), [domains], lambda own: everything, 100)
    expected: dict[str, int] = {}
    for item in ITEMS:
        domain = ((item.get("provider") or {}).get("domain") or "").lower()
        if domain:
            expected[domain] = expected.get(domain, 0) + 1
    assert {fc.value: fc.count for fc in counted["domain"].values} == expected


def test_a_filter_builds_its_query_from_its_entry_alone(index: SearchIndex) -> None:
    domain = FilterSpec("domain", F.DOMAIN, Kind.EQUALS, (Param("domain", "--domain", "?"),))
    query = domain.query(domain.parse({"domain": "Example.COM"}))
    assert repr(query) == repr(options_module.query.Term(F.DOMAIN, "example.com"))


def test_facet_names_are_checked_against_the_table() -> None:
    assert [spec.name for spec in options_module.check_facet_names(["year", "topics", "year"])] == [
        "year",
        "topics",
    ]
    with pytest.raises(QueryError, match=re.escape(f"choose from {', '.join(FACET_NAMES)}")):
        options_module.check_facet_names(["nope"])


def test_every_facet_ignores_a_filter_of_the_table() -> None:
    names = {spec.name for spec in FILTERS}
    assert all(spec.own_filter in names for spec in FACETS)
