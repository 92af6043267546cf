# The two commands: `make book` builds the HTML book, `make test` runs the test
# suite and executes every notebook. Each bootstraps .venv by itself when it is
# missing or older than pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# nbmake skips any path containing "_build", so the executed copy lives beside it.
EXECUTED := _executed
NBMAKE_TIMEOUT ?= 900
JB := $(BIN)/jupyter-book build --toc $(CURDIR)/_toc.yml -W --keep-going

.PHONY: book test unit notebooks book-from-executed check-book clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,dev]"
	touch $(STAMP)

# The book: execute every notebook (the live cells run this machine's profile)
# and render HTML into _build/html.
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

clean:
	rm -rf _build _executed .cache
