"""Checks on the built HTML (_build/html), run by `make test` after the book is built."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from colab_cell import repository_url

pytestmark = pytest.mark.built_book

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("*.ipynb"))


def page(name: str) -> str:
    path = HTML / f"{name}.html"
    assert path.is_file(), f"{path} is missing: build the book first (make test builds it)"
    return path.read_text()


def test_intro_page_renders_with_the_chapter_table() -> None:
    html = page("intro")
    assert "Tricks Lab" in html and "00_baseline.html" in html


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_has_figures_math_colab_link_and_references(chapter: str) -> None:
    html = page(chapter)
    images = re.findall(r'<img[^>]+src="(_images/[^"]+\.png)"', html)
    assert images, f"{chapter}: no figure in the page"
    for src in images:
        assert (HTML / src).stat().st_size > 1000, f"{chapter}: {src} is empty"
    org_repo = repository_url().removeprefix("https://github.com/")
    assert f"colab.research.google.com/github/{org_repo}/blob/main/book/{chapter}.ipynb" in html
    assert "math notranslate" in html, f"{chapter}: no rendered math"
    assert "footnote-list" in html, f"{chapter}: no references list"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_was_executed_without_errors(chapter: str) -> None:
    notebook = json.loads((ROOT / "_executed" / f"{chapter}.ipynb").read_text())
    errors = [o for c in notebook["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code_cells), f"{chapter}: a code cell did not run"


def test_reference_pages_are_generated_from_the_code() -> None:
    api = page("api/training")
    assert 'id="tricks_lab.train.fit"' in api, "autodoc did not document tricks_lab.train.fit"
    cli = page("cli")
    assert "--profile" in cli and "--variant" in cli, "the command line page lacks the parser's options"


def test_logo_favicon_footer_and_edit_button() -> None:
    html = page("intro")
    assert "logo.svg" in html and "favicon.svg" in html
    assert "MIT License" in html
    assert "/edit/main/book/intro.md" in html


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_widgets_leave_no_dead_view_or_repr_in_the_static_page(chapter: str) -> None:
    html = page(chapter)
    # a widget cell is tagged remove-output: the static figure above it is what the page shows
    for leftover in ("VBox(", "HBox(", "interactive(children", "application/vnd.jupyter.widget-view+json"):
        assert leftover not in html, f"{chapter}: a widget's {leftover!r} reached the static page"
