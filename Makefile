# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint install system-deps docs bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/parley demo

system-deps:
	bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/mypy

test: $(STAMP) system-deps lint
	$(BIN)/pytest

docs: $(STAMP)
	$(BIN)/python scripts/settings_doc.py

bench: $(STAMP)
	$(BIN)/python bench/node_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
