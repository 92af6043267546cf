"""Every chapter's Result section is drawn from the registry's records, never typed (issue 16, section 3)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tricks_lab.registry import EXPERIMENTS, experiment_for
from tricks_lab.verdicts import glue_key

BOOK = Path(__file__).resolve().parent.parent / "book"
CHAPTERS = sorted(c for e in EXPERIMENTS for c in e.chapters)


def _cells(chapter: str) -> list[dict]:
    return json.loads((BOOK / f"{chapter}.ipynb").read_text(encoding="utf-8"))["cells"]


def _result_section(cells: list[dict]) -> list[dict]:
    """The cells from the "## Result" heading up to the next second-level heading."""
    start = next(i for i, c in enumerate(cells)
                 if c["cell_type"] == "markdown" and "".join(c["source"]).startswith("## Result"))
    end = next((i for i, c in enumerate(cells[start + 1:], start + 1)
                if c["cell_type"] == "markdown" and re.match(r"## ", "".join(c["source"]))), len(cells))
    return cells[start:end]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_part_of_the_chapters_experiment_is_shown(chapter: str) -> None:
    code = "\n".join("".join(c["source"]) for c in _result_section(_cells(chapter)) if c["cell_type"] == "code")
    prose = "\n".join("".join(c["source"]) for c in _result_section(_cells(chapter)) if c["cell_type"] == "markdown")
    experiment = experiment_for(chapter)
    for part in experiment.parts:
        assert f'show_part("{experiment.name}", "{part.name}")' in code, f"{chapter}: part {part.name} not shown"
        if part.kind in ("main", "longer"):
            assert f'glue_part("{experiment.name}", "{part.name}")' in code, f"{chapter}: {part.name} not glued"
        if part.kind == "longer":  # and the change of each gap between the budgets, paired by seed
            assert f'budget_change_markdown("{experiment.name}"' in code, f"{chapter}: no gap change for {part.name}"
        if part.kind in ("grid", "sweep"):  # a grid or sweep is also drawn along its hyperparameter
            assert f'show_curve("{experiment.name}", "{part.name}")' in code, f"{chapter}: {part.name} not drawn"
        if part.kind == "sweep":  # and its choice is a generated sentence in the prose
            assert f'glue_sweep("{experiment.name}", "{part.name}")' in code, f"{chapter}: {part.name} not glued"
            key = glue_key(experiment.name, part.name, "chosen", "sentence")
            assert f"{{glue:md}}`{key}`" in prose, f"{chapter}: the prose does not cite {key}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_glue_cell_is_hidden_and_no_old_stored_results_remain(chapter: str) -> None:
    cells = _cells(chapter)
    glue_cells = [c for c in cells if c["cell_type"] == "code" and "glue_part(" in "".join(c["source"])]
    assert glue_cells and all("remove-cell" in c["metadata"].get("tags", []) for c in glue_cells)
    text = "".join("".join(c["source"]) for c in cells)
    assert "stored_results(" not in text and "Stored GPU results" not in text


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_result_prose_types_no_number_from_our_runs(chapter: str) -> None:
    """Numbers in a Result section's prose come through glue roles; no typed percentage or points."""
    for cell in _result_section(_cells(chapter)):
        if cell["cell_type"] != "markdown":
            continue
        prose = re.sub(r"\{glue:[a-z]+\}`[^`]*`", "", "".join(cell["source"]))
        prose = prose.replace("95%", "")  # the interval's level, not a result
        typed = re.findall(r"\d+(?:\.\d+)?\s*(?:%|points?\b)", prose)
        assert typed == [], f"{chapter}: typed numbers {typed} in the Result section; glue them from the record"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_widget_cell_hides_its_output_after_a_static_figure(chapter: str) -> None:
    """The rendered book shows the figure drawn before a widget, never a dead widget view."""
    cells = _cells(chapter)
    for index, cell in enumerate(cells):
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or not re.search(r"\b\w+_explorer\(", source):
            continue
        assert "remove-output" in cell["metadata"].get("tags", []), f"{chapter}: cell {index} shows a widget"
        nearby = "".join("".join(c["source"]) for c in cells[max(0, index - 3):index] if c["cell_type"] == "code")
        assert re.search(r"\bfig = \w+\(", nearby), f"{chapter}: widget cell {index} has no static figure before it"
