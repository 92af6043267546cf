"""The chapter notebooks as files: committed without outputs, with a kernelspec, listed in the TOC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
SETUP_MARK = "from tricks_lab.notebook import setup"


def test_there_are_notebooks() -> None:
    assert (BOOK / "00_baseline.ipynb") in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_with_a_kernelspec(path: Path) -> None:
    notebook = json.loads(path.read_text())
    carrying = [i for i, cell in enumerate(notebook["cells"])
                if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))]
    assert carrying == [], f"{path.name}: code cells {carrying} carry outputs; clear them before committing"
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_colab_aware_setup(path: Path) -> None:
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    first = "".join(cells[0]["source"])
    assert '"google.colab" in sys.modules' in first and SETUP_MARK in first


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_notebook_overrides_the_cell_timeout(path: Path) -> None:
    """One cell limit for all (NBMAKE_TIMEOUT, execute.timeout): metadata.execution.timeout would override it."""
    metadata = json.loads(path.read_text())["metadata"]
    assert "timeout" not in metadata.get("execution", {}), f"{path.name}: remove metadata.execution.timeout"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_is_in_the_table_of_contents(path: Path) -> None:
    toc = (BOOK.parent / "_toc.yml").read_text()
    assert f"file: {path.stem}" in toc


def test_one_cell_time_limit_for_nbmake_and_the_book_build() -> None:
    """A stall fails fast in both: NBMAKE_TIMEOUT (make test) equals execute.timeout (make book)."""
    import re

    import yaml

    root = BOOK.parent
    nbmake = int(re.search(r"^NBMAKE_TIMEOUT \?= (\d+)$", (root / "Makefile").read_text(), re.M).group(1))
    book = yaml.safe_load((root / "_config.yml").read_text())["execute"]["timeout"]
    assert nbmake == book <= 600
