"""The command line's surface: help for every option, examples, --version, the name it was called by."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

import tricks_lab
from tricks_lab.__main__ import SUBCOMMANDS, build_parser, main, program_name

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "book" / "_ext"))
from argparse_help import walk_parsers  # noqa: E402  (the book's "Command line" page walks the same way)


def test_every_option_and_subcommand_has_help() -> None:
    parser = build_parser("tricks-lab")
    for each in walk_parsers(parser):
        for action in each._actions:
            if isinstance(action, argparse._SubParsersAction):
                assert all(choice.help for choice in action._choices_actions)
            else:
                assert action.help, f"{each.prog}: {action.option_strings or action.dest} has no help"
    assert len(list(walk_parsers(parser))) == 1 + len(SUBCOMMANDS)


def test_help_ends_with_examples_under_the_name_it_was_called_by(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"], prog="tricks-lab")
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tricks-lab")
    assert "examples:" in out and "tricks-lab compare --profile short" in out


def test_version(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--version"], prog="tricks-lab")
    assert capsys.readouterr().out.strip() == f"tricks-lab {tricks_lab.__version__}"


@pytest.mark.parametrize("argv0, expected", [
    ("/venv/bin/tricks-lab", "tricks-lab"),
    ("/repo/tricks_lab/__main__.py", "python -m tricks_lab"),
    ("-m", "python -m tricks_lab"),
])
def test_program_name(argv0: str, expected: str) -> None:
    assert program_name(argv0) == expected


@pytest.mark.slow
def test_python_dash_m_calls_itself_that() -> None:
    result = subprocess.run([sys.executable, "-m", "tricks_lab", "--help"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m tricks_lab")


def test_a_bad_seed_is_a_clear_error(capsys: pytest.CaptureFixture) -> None:
    assert main(["run", "--seeds", "x"], prog="tricks-lab") == 2
    assert "seed 'x' must be an integer" in capsys.readouterr().err
