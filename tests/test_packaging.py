"""The package as users install it: metadata, one version, the license, the extras, cheap import, exports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import tricks_lab

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_license_is_mit_in_the_metadata_and_in_the_file() -> None:
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "The Tricks Lab authors" in text
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"]), "PEP 639: no license classifier"


def test_one_version_source() -> None:
    assert "version" not in PROJECT and PROJECT["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tricks_lab.__version__"}
    assert tricks_lab.__version__.count(".") == 2


def test_typed_marker_ships() -> None:
    assert (ROOT / "tricks_lab" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["tricks_lab"]


def test_urls_follow_the_configured_repository() -> None:
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert PROJECT["urls"]["Source"] == url
    assert PROJECT["urls"]["Issues"] == f"{url}/issues"


def test_training_does_not_need_the_plots_extra() -> None:
    requirements = " ".join(PROJECT["dependencies"])
    assert "matplotlib" not in requirements and "ipywidgets" not in requirements
    extras = PROJECT["optional-dependencies"]
    assert any(r.startswith("matplotlib") for r in extras["plots"])
    assert "tricks_lab[plots]" in extras["book"]


@pytest.mark.slow
def test_library_modules_import_without_matplotlib_or_ipywidgets() -> None:
    result = python(
        "import sys; sys.modules['matplotlib'] = None; sys.modules['ipywidgets'] = None\n"
        "import tricks_lab.data, tricks_lab.loader, tricks_lab.models, tricks_lab.train, tricks_lab.experiments\n"
        "import tricks_lab.losses, tricks_lab.mixing, tricks_lab.occlusion, tricks_lab.autoaugment\n"
        "import tricks_lab.optim, tricks_lab.schedules, tricks_lab.metrics, tricks_lab.notebook\n"
        "from tricks_lab import fit, compare, BASELINE\n"
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("module, missing", [
    ("tricks_lab.plotting", "matplotlib"),
    ("tricks_lab.widgets", "ipywidgets"),
    ("tricks_lab.widgets.losses", "matplotlib"),
])
def test_figures_without_the_extra_name_it(module: str, missing: str) -> None:
    result = python(f"import sys; sys.modules[{missing!r}] = None\nimport {module}")
    assert result.returncode != 0
    assert 'pip install "tricks_lab[plots]"' in result.stderr, result.stderr[-2000:]


def test_importing_the_package_is_cheap() -> None:
    result = python("import sys, tricks_lab; print('torch' in sys.modules, tricks_lab.__version__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", tricks_lab.__version__]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(tricks_lab.__all__) - {"__version__"}))
def test_top_level_exports_resolve(name: str) -> None:
    assert getattr(tricks_lab, name) is not None
    assert name in dir(tricks_lab)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tricks_lab.nope  # noqa: B018


MODULES_WITH_ALL = ["cache", "data", "losses", "metrics", "optim", "schedules", "plotting", "notebook",
                    "widgets", "widgets.schedules", "widgets.losses", "widgets.scaling", "widgets.adabound"]


@pytest.mark.parametrize("name", MODULES_WITH_ALL)
def test_public_modules_declare_all_and_it_resolves(name: str) -> None:
    import importlib

    module = importlib.import_module(f"tricks_lab.{name}")
    assert module.__all__, f"tricks_lab.{name} has an empty __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == [], f"tricks_lab.{name}.__all__ names what it lacks: {missing}"


def test_every_module_is_in_the_api_reference() -> None:
    pages = "\n".join(p.read_text() for p in (ROOT / "book" / "api").glob("*.md"))
    modules = [p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
               for p in (ROOT / "tricks_lab").rglob("*.py") if not p.name.startswith("_") or p.name == "__init__.py"]
    modules = [m.removesuffix(".__init__") for m in modules]
    missing = [m for m in modules if f"automodule:: {m}\n" not in pages]
    assert missing == [], f"add these modules to a page of book/api/: {missing}"
