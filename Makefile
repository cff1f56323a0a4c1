# The two set-up commands of the README, and a few conveniences.
# Everything installs into .venv; nothing is needed beyond python3 (3.11+).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi
INSTANCE := $(CURDIR)/instance
export GRANTS_INSTANCE_PATH ?= $(INSTANCE)
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: demo test lint diagrams benchmarks clean

$(BIN)/flask: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# The product on its embedded default: SQLite, jobs in-process, mail to files, demo data.
demo: $(BIN)/flask
	$(BIN)/flask grants init
	@if [ ! -f "$(GRANTS_INSTANCE_PATH)/.demo-loaded" ]; then \
		$(BIN)/flask grants demo-data && touch "$(GRANTS_INSTANCE_PATH)/.demo-loaded"; \
	else echo "Demo data already loaded (make clean to start again)."; fi
	$(BIN)/flask run --host $(HOST) --port $(PORT)

# Every test, on SQLite (set DATABASE_URL / TEST_REDIS_URL to run against real services).
test: $(BIN)/flask
	@# axe-core (npm) for the accessibility checks, once; without npm they are skipped locally.
	@if [ ! -d node_modules/axe-core ]; then \
		if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund; \
		else echo "npm not found: accessibility checks skipped (apt-get install npm)"; fi; \
	fi
	$(BIN)/pytest -q -p no:cacheprovider -n 2
	$(BIN)/ruff check .
	$(BIN)/flask grants diagrams --check

lint: $(BIN)/flask
	$(BIN)/ruff check .

diagrams: $(BIN)/flask
	$(BIN)/flask grants diagrams

benchmarks: $(BIN)/flask
	$(BIN)/python -m benchmarks

clean:
	rm -rf "$(INSTANCE)"
