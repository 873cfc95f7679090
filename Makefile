# Taskyard: `make` lists the targets; longer logic lives in scripts/.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# uv's path, installed into .cache/uv on first use when it is not on PATH (scripts/ensure-uv.sh).
UV = $(or $(shell scripts/ensure-uv.sh),$(error uv could not be installed))/uv

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: install
install: ## Install the Python workspace (uv sync)
	$(UV) sync --locked

.PHONY: run
run: ## Run the whole system locally: API :8000, Flower :5555, one worker per queue
	@scripts/run-local.sh

.PHONY: test
test: ## Run unit, integration, e2e, docs, fault and chart tests (starts RabbitMQ/Redis if needed)
	@scripts/test.sh

.PHONY: test-unit
test-unit: ## Unit tests only (no servers)
	$(UV) run --locked pytest tests/unit

.PHONY: lint
lint: ## ruff and mypy
	$(UV) run --locked ruff check .
	$(UV) run --locked ruff format --check .
	$(UV) run --locked mypy libs/common/src libs/client/src services/api/src services/data-worker/src services/email-worker/src services/file-worker/src services/callback-worker/src

.PHONY: audit
audit: ## Dependency audit: pip-audit over uv.lock
	@scripts/audit.sh

.PHONY: format
format: ## Format the code with ruff
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

.PHONY: images
images: ## Build the five service images as taskyard/<name>:<version>
	@scripts/build-images.sh

.PHONY: test-cluster
test-cluster: ## Run the rendered chart in the Docker cluster emulation: e2e, helm test, KEDA, faults, upgrade
	@scripts/test-cluster.sh

.PHONY: kind-up
kind-up: ## Create a kind cluster, load the images, install KEDA and the chart
	@scripts/kind-up.sh

.PHONY: e2e-kind
e2e-kind: ## Run tests/e2e against the kind cluster and check KEDA scaling
	@scripts/e2e-kind.sh

.PHONY: kind-memory
kind-memory: ## Memory Docker needs for the kind cluster at full scale-out (from the chart's requests)
	PATH="$$(scripts/ensure-helm.sh):$$PATH" $(UV) run --locked python scripts/kind_memory.py

.PHONY: kind-down
kind-down: ## Delete the kind cluster
	@scripts/kind-down.sh

.PHONY: bench
bench: ## Benchmarks against plain Celery (not part of make test)
	@scripts/bench.sh

.PHONY: screenshots
screenshots: ## Retake the console pictures in docs/images (headless Chromium, real stack)
	scripts/ensure-servers.sh
	TASKYARD_E2E_SCREENSHOTS=1 $(UV) run --locked pytest -q tests/e2e/test_console_browser.py
