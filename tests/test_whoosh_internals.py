"""The Whoosh boundary: private Whoosh names are used in searchkit/whoosh_internals/ only, each
one is checked when searchkit is imported, and a missing one is a clear error."""

from __future__ import annotations

import ast
import functools
import re
import warnings
from pathlib import Path

import pytest
import whoosh

import searchkit.whoosh_internals as internals
from searchkit.errors import SearchkitError, WhooshVersionError

PACKAGE = Path(internals.__file__).resolve().parent.parent
ADAPTER = Path(internals.__file__).resolve().parent
_PRIVATE = re.compile(r"^_[A-Za-z0-9][A-Za-z0-9_]*$")  # _name, not __dunder__


def _private(name: str) -> bool:
    return bool(_PRIVATE.match(name)) and not name.endswith("__")


def _names_defined(tree: ast.AST) -> set[str]:
    """Private names a module defines: functions, classes, attributes and variables it sets."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            found.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found.add(node.target.id)
    return {name for name in found if _private(name)}


@functools.cache
def _whoosh_private_names() -> frozenset[str]:
    names: set[str] = set()
    for path in Path(whoosh.__file__).resolve().parent.rglob("*.py"):
        with warnings.catch_warnings():  # Whoosh's sources have invalid escapes ("\w")
            warnings.simplefilter("ignore")
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        names |= _names_defined(tree)
    return frozenset(names)


def _outside_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if ADAPTER not in p.parents)


def _uses(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) of every private name a module reads as an attribute, imports from Whoosh,
    or passes as a keyword argument."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("whoosh"):
            found += [(node.lineno, alias.name) for alias in node.names if _private(alias.name)]
        elif isinstance(node, ast.keyword) and node.arg and _private(node.arg):
            found.append((node.lineno, node.arg))
    return found


def test_every_private_name_searchkit_relies_on_exists_in_the_installed_whoosh() -> None:
    assert internals.missing_names() == []
    assert whoosh.versionstring() == internals.REQUIRED_WHOOSH


def test_the_listed_names_are_whooshs_private_names() -> None:
    private = _whoosh_private_names()
    listed = {name for names in internals.PRIVATE_NAMES.values() for name in names}
    assert listed <= private, sorted(listed - private)


def test_no_private_whoosh_name_is_used_outside_the_adapter() -> None:
    whoosh_private = _whoosh_private_names()
    modules = _outside_modules()
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in modules}
    own: set[str] = set()
    for tree in trees.values():
        own |= _names_defined(tree)
    listed = {name for names in internals.PRIVATE_NAMES.values() for name in names}
    offending = []
    for path, tree in trees.items():
        for line, name in _uses(tree):
            # A name searchkit defines for itself (self._lock) is its own, unless the adapter
            # lists it as one of Whoosh's.
            if name in listed or (name in whoosh_private and name not in own):
                offending.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {name}")
    assert offending == []


def test_the_check_finds_a_planted_violation(tmp_path: Path) -> None:
    """The scan above would see a use: a module reading a W3 matcher's block state."""
    tree = ast.parse("def f(matcher):\n    return matcher._read_ids()\n")
    assert (2, "_read_ids") in _uses(tree)
    tree = ast.parse("from whoosh.codec.whoosh3 import _lenfield\n")
    assert (1, "_lenfield") in _uses(tree)


def test_a_missing_name_raises_searchkits_error_naming_both_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        internals.PRIVATE_NAMES, "whoosh.codec.whoosh3.W3LeafMatcher", ("_ids", "_no_such_block_state")
    )
    with pytest.raises(WhooshVersionError) as raised:
        internals.check_whoosh()
    message = str(raised.value)
    assert f"searchkit needs Whoosh {internals.REQUIRED_WHOOSH}, found Whoosh 2.7.4" in message
    assert "W3LeafMatcher._no_such_block_state" in message
    assert isinstance(raised.value, SearchkitError)


def test_a_missing_module_is_reported_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(internals.PRIVATE_NAMES, "whoosh.codec.whoosh9", ("_lenfield",))
    with pytest.raises(WhooshVersionError, match=r"whoosh\.codec\.whoosh9\._lenfield"):
        internals.check_whoosh()


def test_the_release_is_pinned_in_pyproject() -> None:
    text = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"whoosh=={internals.REQUIRED_WHOOSH}"' in text
