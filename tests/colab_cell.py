"""The first code cell of every chapter, rendered from ``repository.url`` in ``_config.yml``.

``python tests/colab_cell.py`` (or ``make colab-cell``) rewrites the first code
cell of every ``book/*.ipynb`` from the template below, keeping the rest of
each notebook and its JSON layout; tests/test_colab_cell.py fails when a cell
disagrees with the template or with ``_config.yml``. A fork changes
``repository.url`` and runs the command once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"

TEMPLATE = '''\
# Setup: on Colab, fetch the book and install tricks_lab once (Colab's own torch is kept);
# everywhere, report the device, the experiment profile and the data copy.
import importlib.util, shutil, subprocess, sys
REPOSITORY, CLONE = "{url}", "/content/tricks-lab"  # repository.url of _config.yml
if "google.colab" in sys.modules and importlib.util.find_spec("tricks_lab") is None:
    shutil.rmtree(CLONE, ignore_errors=True)
    for step, command, advice in (
        ("git clone", ["git", "clone", "--quiet", "--depth", "1", REPOSITORY, CLONE],
         f"check that {{REPOSITORY}} exists and is public and that the runtime is online"),
        ("pip install", [sys.executable, "-m", "pip", "install", "--quiet", CLONE + "[plots]"],
         "fix what pip says, then Runtime > Restart session and run this cell again"),
    ):
        try:
            subprocess.run(command, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", None) or error
            raise RuntimeError(f"{{step}} failed: {{detail}}\\n{{advice}}") from None
    importlib.invalidate_caches()

from tricks_lab.notebook import setup
env = setup(colab_clone=CLONE, chapter="{chapter}")'''


def repository_url(config: Path = ROOT / "_config.yml") -> str:
    """``repository.url`` of the book's configuration, without a trailing slash or ``.git``."""
    url = yaml.safe_load(config.read_text())["repository"]["url"]
    return url.rstrip("/").removesuffix(".git")


def render(chapter: str, url: str | None = None) -> str:
    """The first cell of ``chapter`` (a notebook's stem) for the repository at ``url`` (default: ``_config.yml``'s)."""
    return TEMPLATE.format(url=url or repository_url(), chapter=chapter)


def first_code_cell(notebook: dict) -> dict:
    return next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")


def rewrite(path: Path, source: str) -> bool:
    """Put ``source`` into the first code cell of ``path``; True if the file changed."""
    text = path.read_text()
    notebook = json.loads(text)
    cell = first_code_cell(notebook)
    lines = source.splitlines(keepends=True)
    if cell["source"] == lines:
        return False
    cell["source"] = lines
    # nbformat's layout: one-space indent, non-ASCII kept, a trailing newline.
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    return True


def main() -> int:
    changed = [path.name for path in sorted(BOOK.glob("*.ipynb")) if rewrite(path, render(path.stem))]
    print(f"first cells rewritten for {repository_url()}: {', '.join(changed) or 'none changed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
