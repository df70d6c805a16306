# gridtwin: the user's way in.  `make run`, `make test`, `make dashboard`, `make bench`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SCENARIO ?= scenarios/default.toml
ARGS   ?=
CONTRACTS := settlement/chain/contracts
NODE_DEPS := $(CONTRACTS)/node_modules/.installed

.PHONY: run test lint dashboard bench contracts browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when the project's metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

# Node packages pinned in settlement/chain/contracts/package-lock.json: solc-js, OpenZeppelin's
# contracts and merkle-tree, anvil (the real node the tests run) and forge (the contracts' fuzz
# and invariant tests; offline, with solc-js behind tools/solc). Running gridtwin needs none of
# them: the compiled artifacts are committed.
$(NODE_DEPS): $(CONTRACTS)/package.json $(CONTRACTS)/package-lock.json
	cd $(CONTRACTS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## contracts: compile the Solidity sources (solc-js, offline); writes the committed artifacts
contracts: $(NODE_DEPS)
	cd $(CONTRACTS) && node build.js

## run: the default scenario headless (7 days); results under results/
run: $(VENV)/.installed
	$(BIN)/gridtwin run $(SCENARIO) $(ARGS)

## lint: ruff, mypy and the import layers (import-linter contracts in pyproject.toml)
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## test: lint, then the whole test suite (slow: anvil, forge fuzz/invariant, Slither and browser
## tests included; CI=1 makes a missing anvil, forge, slither or browser a failure, not a skip)
test: lint $(NODE_DEPS) browser
	CI=$${CI:-1} $(BIN)/python -m pytest

## browser: Debian's Chromium and ChromeDriver for the dashboard's browser tests
browser:
	@command -v chromedriver >/dev/null && command -v chromium >/dev/null || { \
		apt-get update -qq && apt-get install -y -qq chromium chromium-driver; }

## dashboard: serve the Dash app on http://127.0.0.1:8050
dashboard: $(VENV)/.installed
	$(BIN)/python app.py --host 127.0.0.1 --port 8050

## bench: performance benchmarks; writes benchmarks/RESULTS.md
bench: $(VENV)/.installed
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
