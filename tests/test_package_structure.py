"""The package's import graph and the run cache's training path.

- No import cycle among the modules of ``tricks_lab`` (module-level imports,
  parsed from the source, so a cycle hidden by import order still shows).
- The result types, records and figures do not pull in the trainer or the
  data-parallel strategy.
- The run cache's key (:func:`tricks_lab.experiments.training_code_version`)
  covers every module that training code imports, and only those: editing a
  figure keeps every cached run, editing the training path does not.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tricks_lab
from tricks_lab import experiments

PACKAGE = Path(tricks_lab.__file__).parent

NON_TRAINING = {
    "tricks_lab": "the package's __init__: the version and lazy re-exports",
    "tricks_lab.cache": "where the cache lives and atomic writes: not what a run computes",
    "tricks_lab.hardware": "the device's name, recorded beside a run",
    "tricks_lab.results": "History/Result/Comparison: the containers a run fills, and their tables",
    "tricks_lab.stats": "intervals over finished runs",
    "tricks_lab.per_image": "the per-image v2 transform classes' fast path; the loader's hooks never call it",
}
"""Modules the training path may import without being part of the cache key, and why."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(body: list[ast.stmt], module_level: bool):
    """Import statements executed at import time (module_level) or anywhere; never TYPE_CHECKING ones."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node):
                yield from _statements(node.body, module_level)
            yield from _statements(node.orelse, module_level)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                yield from _statements(block, module_level)
        elif isinstance(node, (ast.With, ast.For, ast.While)):
            yield from _statements(node.body, module_level)
        elif not module_level and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from _statements(node.body, module_level)


def imports(name: str, module_level: bool = True) -> set[str]:
    """The ``tricks_lab`` modules that module ``name`` imports."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _statements(ast.parse(path.read_text()).body, module_level):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # "from X import y": y may be a submodule of X or a name defined in X
            targets = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in MODULES else prefix
                       for alias in node.names]
        for target in targets:
            while target and target not in MODULES:  # import a.b.c -> the deepest module that exists
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def closure(roots: set[str], module_level: bool = True) -> set[str]:
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(imports(name, module_level))
    return seen


def test_the_parser_finds_the_imports_it_should() -> None:
    assert {"tricks_lab.train", "tricks_lab.results", "tricks_lab.loader"} <= imports("tricks_lab.experiments")
    assert "tricks_lab.strategy" in imports("tricks_lab.train")
    assert "tricks_lab.evaluation" in imports("tricks_lab.strategy")
    assert "tricks_lab.results" not in imports("tricks_lab.strategy")  # under TYPE_CHECKING only
    assert "tricks_lab.schedules" in imports("tricks_lab.build", module_level=False)  # inside a function
    assert "tricks_lab.mixing" in imports("tricks_lab.recipe")  # "from . import mixing"


def test_the_module_level_import_graph_has_no_cycle() -> None:
    graph = {name: imports(name) for name in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                cycle = path[path.index(other):] + [other] if other in path else [name, other]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if other not in state:
                visit(other, path + [other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


LIGHT = ("tricks_lab.results", "tricks_lab.records", "tricks_lab.plotting")


@pytest.mark.parametrize("module", LIGHT)
def test_results_records_and_plotting_do_not_pull_in_the_trainer(module: str) -> None:
    reached = closure({module})
    assert not reached & {"tricks_lab.train", "tricks_lab.distributed", "tricks_lab.strategy",
                          "tricks_lab.experiments"}, sorted(reached)


def test_importing_them_in_a_fresh_interpreter_loads_no_trainer() -> None:
    code = (f"import sys, {', '.join(LIGHT)}; bad = [m for m in ('tricks_lab.train', 'tricks_lab.distributed', "
            f"'tricks_lab.experiments') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]


# -- the run cache's key ---------------------------------------------------------------------------


def test_every_module_the_training_path_imports_is_on_it_or_declared_non_training() -> None:
    training = {f"tricks_lab.{name}" for name in experiments.TRAINING_PATH}
    assert training <= set(MODULES), sorted(training - set(MODULES))
    # every import counts here, function-level ones too: lazily imported code still shapes a run
    reached = closure(training, module_level=False)
    unaccounted = reached - training - set(NON_TRAINING)
    assert not unaccounted, (f"{sorted(unaccounted)} are imported by the training path: add them to "
                             "experiments.TRAINING_PATH (or, if they cannot change a run, to NON_TRAINING here)")
    assert not training & set(NON_TRAINING)


def test_plotting_widgets_and_records_are_not_on_the_training_path() -> None:
    training = {f"tricks_lab.{name}" for name in experiments.TRAINING_PATH}
    off_path = {"tricks_lab.plotting", "tricks_lab.records", "tricks_lab.notebook", "tricks_lab.__main__",
                *(name for name in MODULES if name.startswith("tricks_lab.widgets"))}
    assert not training & off_path


def _clear_version_caches() -> None:
    for name in ("training_code_version", "_version", "_fingerprint_file"):
        cached = getattr(experiments, name, None)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


@pytest.fixture
def package_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A copy of the package's source; training_code_version() reads it instead of the real one."""
    copy = tmp_path / "tricks_lab"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    original = experiments.training_code_version()
    monkeypatch.setattr(experiments, "__file__", str(copy / "experiments.py"))
    _clear_version_caches()
    yield copy, original
    monkeypatch.undo()
    _clear_version_caches()  # no version of the copy stays cached for later tests


def _version(modules: tuple[str, ...] = experiments.TRAINING_PATH) -> str:
    _clear_version_caches()  # the files changed under the same paths
    return experiments.training_code_version(modules)


def _append(path: Path, text: str) -> None:
    with open(path, "a") as handle:
        handle.write(text)


def test_editing_a_figure_keeps_the_cache_key_and_editing_training_code_changes_it(package_copy) -> None:
    copy, original = package_copy
    assert _version() == original  # the copy is the package
    for name in ("plotting.py", "records.py", "stats.py", "results.py", "widgets/adabound.py"):
        _append(copy / name, "\n_A_FIGURES_COLOUR = 'tab:red'\n")
        assert _version() == original, name
    versions = {original}
    for name in ("loader.py", "train.py", "models.py", "mixing.py", "recipe.py"):
        _append(copy / name, "\n_A_TRAINING_CHANGE = 1\n")
        versions.add(_version())
    assert len(versions) == 6  # each edit made a new key
    (copy / "occlusion.py").unlink()
    assert _version() not in versions


def test_a_runs_key_follows_only_the_modules_its_recipe_uses(package_copy) -> None:
    from tricks_lab.recipe import BASELINE

    copy, _ = package_copy
    mixup = BASELINE.replace(mixing="mixup")
    assert "tricks_lab.mixing" in {f"tricks_lab.{m}" for m in experiments.training_modules(mixup)}
    base, mixed = _version(experiments.training_modules(BASELINE)), _version(experiments.training_modules(mixup))
    _append(copy / "mixing.py", "\n_A_MIXING_CHANGE = 1\n")
    assert _version(experiments.training_modules(BASELINE)) == base  # the baseline's cached runs stay valid
    assert _version(experiments.training_modules(mixup)) != mixed
    _append(copy / "loader.py", "\n# a comment\n")  # comments and docstrings are not code
    assert _version(experiments.training_modules(BASELINE)) == base
    _append(copy / "loader.py", "\n_A_LOADER_CHANGE = 1\n")
    assert _version(experiments.training_modules(BASELINE)) != base
