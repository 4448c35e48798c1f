# Two commands matter: `make demo` and `make test`. Everything else is a helper.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint fmt bench dev worker up down clean system-deps install replay-check

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/agentfleet demo

system-deps:
	bash scripts/system-deps.sh

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy workflows activities agentfleet worker.py

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench

# The step before a rollout (README, "Deploying"): the histories on the
# configured server (TEMPORAL_ADDRESS) must replay on this checkout.
replay-check: $(STAMP)
	$(BIN)/agentfleet replay $(REPLAY_ARGS)

dev: $(STAMP)
	$(BIN)/agentfleet dev

worker: $(STAMP)
	$(BIN)/python worker.py

# The observable production stack (needs a Docker engine): Temporal on
# PostgreSQL, Collector, Tempo, Prometheus, Grafana and N workers.
up:
	docker compose -f docker/docker-compose.yml up -d --build

down:
	docker compose -f docker/docker-compose.yml down

clean:
	rm -rf $(VENV) .agentfleet
