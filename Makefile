# leadsync — two commands do everything: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench sandbox screenshots clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[sandbox,console,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/leadsync demo

test: $(STAMP)
	$(BIN)/ruff check connectors mappings sync sandbox tests benchmarks
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check connectors mappings sync sandbox tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(ARGS)

sandbox: $(STAMP)
	$(BIN)/leadsync sandbox

# The console's pages in English and Japanese, saved by its browser tests (headless Chromium).
screenshots: $(STAMP)
	LEADSYNC_SCREENSHOTS=docs/console $(BIN)/python -m pytest -q -m browser tests/browser

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .conformance
