"""The style the code holds to, checked as the suite runs: ruff's checks and its formatting as
pyproject.toml configures them (package, tests and benchmarks), and ``mypy --strict`` on the
package. The tools come with the test extras (``pip install '.[test]'``), so CI runs them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CODE = ["searchkit", "tests", "benchmarks"]


def run_tool(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install '.[test]' installs it)")
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, check=False
    )


def test_ruff_finds_nothing() -> None:
    done = run_tool("ruff", "check", "--no-cache", *CODE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_code_is_formatted_as_ruff_formats_it() -> None:
    done = run_tool("ruff", "format", "--check", "--no-cache", *CODE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_finds_nothing_in_the_package() -> None:
    done = run_tool("mypy", "--strict", "--no-incremental", "searchkit")
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_module_of_the_package_is_over_500_lines() -> None:
    long = {
        str(path.relative_to(REPO)): count
        for path in (REPO / "searchkit").rglob("*.py")
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}
