# Health Link data platform. `make demo` and `make test` work on a fresh clone with Python 3.11.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := False
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export SCARF_ANALYTICS := false

DEMO_DIR := $(CURDIR)/.demo
DEMO_START := 2026-11-23

.PHONY: venv demo test test-long lint bench bench-api bench-connectors bench-daycost bench-national serve dbt-parse clean

venv: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# dbt's manifest, which cosmos reads instead of parsing the project on every DAG parse.
dbt-parse: venv
	cd dbt_project && HEALTHLINK_DUCKDB_PATH=/tmp/healthlink-parse.duckdb ../$(BIN)/dbt parse --profiles-dir . --quiet
	cd dbt_project && ../$(BIN)/dbt parse --profiles-dir . --quiet --target postgres --target-path target/postgres

# The demo and the local server say they are development (production is the default, and it
# refuses the development keys and tokens these use).
demo: venv dbt-parse
	HEALTHLINK_ENVIRONMENT=development $(BIN)/python -m warehouse.cli.demo --out $(DEMO_DIR) --start $(DEMO_START)

test: venv dbt-parse
	bash scripts/ensure_services.sh
	$(BIN)/python -m pytest -q -m "not slow" -n 2 --dist loadfile

test-long: venv dbt-parse
	bash scripts/ensure_services.sh
	HEALTHLINK_TEST_LONG=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

# Ingest (DuckDB + PostgreSQL load stage), then API latency at 1 million patients, then the
# operations ledger (a month of 1,100 hospitals), then the day cost on a month of history.
# Each compares both sides of its ratios in rounds alternating which goes first, medians
# (issue 11; bench.api 3 repeats and bench.ops 5 rounds by default).
bench: venv dbt-parse
	bash scripts/ensure_services.sh
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.ops
	$(MAKE) bench-daycost
	$(MAKE) bench-connectors

# API latency against the bare SQL, DuckDB and PostgreSQL: median of 3 repeats alternating
# which side goes first; API_ARGS="--patients 100000 --backend duckdb" scales it.
bench-api: venv dbt-parse
	bash scripts/ensure_services.sh
	$(BIN)/python -m bench.api $(API_ARGS)

# A day's sync + dbt build on 30 days of history against the same day on an empty warehouse,
# 100 hospitals, DuckDB and PostgreSQL (issue 11: at most 1.2x).
bench-daycost: venv dbt-parse
	bash scripts/ensure_services.sh
	$(BIN)/python -m bench.daycost

# The HOSxP and FHIR bulk connectors' read throughput against a raw read of the same source
# (plain pymysql fetch; DuckDB read_json), 250,000 rows each (issue 13); BENCHMARKS.md
# "Connectors". Needs MariaDB.
bench-connectors: venv
	bash scripts/ensure_services.sh
	$(BIN)/python -m bench.connectors

# The national day (issue 11): 1,100 hospitals, about 1 million visits, the DAG under the
# CeleryExecutor with two workers on PostgreSQL. Long (an hour or more on 2 cores), so not
# part of `make bench`; BENCHMARKS.md "National day". NATIONAL_ARGS=--hospitals 40 ... scales it.
bench-national: venv dbt-parse
	bash scripts/ensure_services.sh
	$(BIN)/python -m bench.national $(NATIONAL_ARGS)

# The physician API and web viewer on the demo warehouse (run `make demo` first).
serve: venv
	HEALTHLINK_ENVIRONMENT=development HEALTHLINK_HOME=$(DEMO_DIR)/warehouse HEALTHLINK_REGISTRY_DIR=$(DEMO_DIR)/registry \
	  $(BIN)/uvicorn warehouse.api.main:app --host 127.0.0.1 --port 8000

clean:
	rm -rf .demo .healthlink dbt_project/target dbt_project/logs
