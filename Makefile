# The two commands of the README: `make run` (the whole system) and `make test` (the suite).
# Both create .venv with the project installed; a fresh clone needs only Python 3.11+.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# rebuilt when the dependencies change
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install run test lint clean clean-data

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11 or newer is needed ($(PYTHON) is $$($(PYTHON) -V 2>&1))" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

## run: migrations, demo users, API, two Celery workers, beat and Flower (embedded PostgreSQL
## and Redis under ./var unless DATABASE_URL / REDIS_URL are set); Ctrl-C stops everything
run: install
	$(BIN)/dcoe standalone

## test: the whole pytest suite (embedded servers, or DATABASE_URL / REDIS_URL when set)
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## clean: remove the virtualenv (the data under ./var stays)
clean:
	rm -rf $(VENV) .pytest_cache

## clean-data: delete the embedded PostgreSQL and Redis data (stop `make run` first)
clean-data:
	rm -rf var

## lint: ruff, as CI runs it
lint: install
	$(BIN)/ruff check .
