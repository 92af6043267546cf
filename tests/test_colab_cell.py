"""The chapters' first cell: one template, the repository URL of _config.yml, and what it does on Colab."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import colab_cell
from tricks_lab import notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
FIX = "run `make colab-cell` (python tests/colab_cell.py) to rewrite the first cells from _config.yml"


def first_cell(path: Path) -> str:
    return "".join(colab_cell.first_code_cell(json.loads(path.read_text()))["source"])


def test_the_url_is_a_github_repository() -> None:
    assert colab_cell.repository_url().startswith("https://github.com/")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_is_the_template_with_the_configured_url(path: Path) -> None:
    source = first_cell(path)
    assert f'REPOSITORY, CLONE = "{colab_cell.repository_url()}"' in source, f"{path.name}: the URL disagrees; {FIX}"
    assert source == colab_cell.render(path.stem), f"{path.name}: the first cell differs from the template; {FIX}"


def test_readme_names_the_configured_url() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"url: {colab_cell.repository_url()}" in readme
    assert f"git+{colab_cell.repository_url()}" in readme


def test_rewrite_keeps_the_notebook_layout(tmp_path: Path) -> None:
    copy = tmp_path / NOTEBOOKS[0].name
    copy.write_text(NOTEBOOKS[0].read_text())
    assert colab_cell.rewrite(copy, colab_cell.render(copy.stem, "https://github.com/someone/fork")) is True
    assert '"https://github.com/someone/fork"' in first_cell(copy)
    assert colab_cell.rewrite(copy, colab_cell.render(copy.stem)) is True
    assert copy.read_text() == NOTEBOOKS[0].read_text()


# --- the cell on a simulated Colab -------------------------------------------------------------


class Recorder:
    def __init__(self, fail: str | None = None) -> None:
        self.commands: list[list[str]] = []
        self.fail = fail

    def __call__(self, command: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        assert kwargs.get("check") is True
        self.commands.append(command)
        if self.fail and self.fail in command:
            raise subprocess.CalledProcessError(1, command, stderr=f"{self.fail}: it went wrong")
        return subprocess.CompletedProcess(command, 0, "", "")


@pytest.fixture
def colab(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """A fake Colab: google.colab loaded, rmtree harmless, setup() recorded instead of run."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr("shutil.rmtree", lambda *a, **k: None)
    calls: list[dict] = []
    monkeypatch.setattr(notebook, "setup", lambda **kwargs: calls.append(kwargs))
    return calls


def not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tricks_lab" else real(name, *a))


def run_cell() -> None:
    exec(compile(colab_cell.render("00_baseline"), "first-cell", "exec"), {})


def test_fresh_runtime_clones_installs_then_sets_up(monkeypatch: pytest.MonkeyPatch, colab: list[dict]) -> None:
    not_installed(monkeypatch)
    recorder = Recorder()
    monkeypatch.setattr(subprocess, "run", recorder)
    run_cell()
    clone, install = recorder.commands
    assert clone[:2] == ["git", "clone"] and clone[-2:] == [colab_cell.repository_url(), notebook.COLAB_CLONE]
    assert install[1:4] == ["-m", "pip", "install"] and install[-1] == notebook.COLAB_CLONE + "[plots]"
    assert colab == [{"colab_clone": notebook.COLAB_CLONE, "chapter": "00_baseline"}]


@pytest.mark.parametrize("step, fails, advice", [
    ("git clone", "clone", "exists and is public"),
    ("pip install", "install", "Restart session"),
])
def test_a_failed_step_stops_with_what_failed_and_what_to_do(
    monkeypatch: pytest.MonkeyPatch, colab: list[dict], step: str, fails: str, advice: str
) -> None:
    not_installed(monkeypatch)
    monkeypatch.setattr(subprocess, "run", Recorder(fail=fails))
    with pytest.raises(RuntimeError, match=f"{step} failed: {fails}: it went wrong") as error:
        run_cell()
    assert advice in str(error.value)
    assert colab == []


def test_after_a_restart_the_install_is_skipped_but_setup_runs(
    monkeypatch: pytest.MonkeyPatch, colab: list[dict]
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(subprocess, "run", recorder)
    run_cell()  # tricks_lab is importable, as after a runtime restart
    assert recorder.commands == []
    assert colab == [{"colab_clone": notebook.COLAB_CLONE, "chapter": "00_baseline"}]


def test_prepare_colab_changes_into_the_book_and_allows_the_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "book").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRICKS_LAB_DOWNLOAD", raising=False)
    assert notebook.prepare_colab(tmp_path) == tmp_path / "book"
    assert Path.cwd() == (tmp_path / "book").resolve()
    assert os.environ["TRICKS_LAB_DOWNLOAD"] == "1"
    monkeypatch.setenv("TRICKS_LAB_DOWNLOAD", "0")
    notebook.prepare_colab(tmp_path)
    assert os.environ["TRICKS_LAB_DOWNLOAD"] == "0"


def test_prepare_colab_without_the_clone_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Disconnect and delete runtime"):
        notebook.prepare_colab(tmp_path / "gone")


def test_setup_prepares_colab_on_every_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "book").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.delenv("TRICKS_LAB_DOWNLOAD", raising=False)
    monkeypatch.setattr(notebook, "profile_data", lambda profile: types.SimpleNamespace(source="fake copy"))
    env = notebook.setup("smoke", colab_clone=tmp_path)
    assert env.on_colab and env.data_source == "fake copy"
    assert Path.cwd() == (tmp_path / "book").resolve()
    assert os.environ["TRICKS_LAB_DOWNLOAD"] == "1"
