# The whole bootstrap of k8snotes. Two verbs are all a newcomer needs:
#   make serve   install what is needed, then serve the site on http://127.0.0.1:8000
#   make test    install what is needed, then run every test and every page's blocks
# and, before each commit, `make check`: lint, types and the tests that need no Docker,
# no cluster and no minutes (under a minute; `make test` still runs everything).
# Everything is installed into .venv from requirements.lock; slow host set-up
# (Docker engine, Kubernetes binaries, images) is cached in ~/.cache/k8snotes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
PYTEST_ARGS ?=
CHECK_ARGS ?=

export PATH := $(BIN):$(PATH)
export NO_MKDOCS_2_WARNING := 1

.PHONY: setup serve test check build lint lock clean

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

setup: $(VENV)/.installed

serve: setup
	$(BIN)/mkdocs serve

test: setup
	$(BIN)/k8snotes setup
	$(BIN)/pytest --markdown-docs --markdown-docs-syntax=superfences README.md k8snotes -q
	$(BIN)/pytest -n 3 --dist loadgroup --k8snotes-machines 2 $(PYTEST_ARGS)

# The fast lane: no Docker engine, no cluster, no site build in a browser, no fresh virtualenv.
check: setup
	$(BIN)/ruff check k8snotes tests hooks benchmarks
	$(BIN)/ruff format --check k8snotes tests hooks benchmarks
	$(BIN)/mypy k8snotes
	$(BIN)/pytest tests --ignore=tests/browser -m "not cluster and not docker and not slow" \
		-n 2 --dist loadgroup -q $(CHECK_ARGS)

build: setup
	$(BIN)/mkdocs build --strict

lint: setup
	$(BIN)/ruff check k8snotes tests hooks benchmarks
	$(BIN)/ruff format --check k8snotes tests hooks benchmarks

lock:
	$(BIN)/uv pip compile pyproject.toml --extra site --extra dev --extra browser --extra zensical --python-version 3.11 -o requirements.lock

clean:
	rm -rf site .pytest_cache
