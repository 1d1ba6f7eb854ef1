# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: the demo needs only the package, the tests also its test extras. Installing the
# extras installs the package too, so it refreshes both stamps.
STAMP := $(VENV)/.package-stamp
TEST_STAMP := $(VENV)/.test-stamp

.PHONY: demo test test-fast lint install system-deps docs bench clean assets screenshots \
	constraints wheel-check bench-deps

$(BIN)/python:
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# constraints.txt: the versions the tests passed with (make constraints writes it).
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -c constraints.txt -e .
	touch $(STAMP)

$(TEST_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $(TEST_STAMP) $(STAMP)

install: $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/parley demo

system-deps:
	bash scripts/system-deps.sh

# Tests checked by mypy --strict as src/ is: protocol, store, federation and the shared support. The
# other test folders are annotated as they are touched; add each one here once it passes.
TYPED_TESTS := tests/conftest.py tests/support tests/protocol tests/federation tests/store \
	tests/test_layers.py tests/test_settings.py tests/services/test_duty.py tests/web \
	tests/exchange tests/cluster

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/mypy $(TYPED_TESTS)

test: $(TEST_STAMP) system-deps lint
	$(BIN)/pytest

# The quick loop while working: units, properties and in-process services, no servers.
test-fast: $(TEST_STAMP)
	$(BIN)/pytest -q -m 'not slow' -n auto

# The newest versions pyproject.toml allows, frozen into constraints.txt; then run make test.
constraints:
	bash scripts/constraints.sh

# The wheel as a user installs it: its data files, then the demo's check from a fresh venv.
wheel-check: $(STAMP)
	bash scripts/wheel_check.sh

docs: $(STAMP)
	$(BIN)/python scripts/settings_doc.py

bench: $(TEST_STAMP)
	$(BIN)/python bench/node_bench.py

# What the benchmarks compare against (PostGIS), for bench/deconflict_bench.py.
bench-deps:
	bash scripts/bench-deps.sh

# The console's front-end libraries, pinned in package.json and package-lock.json: their built
# files are copied into src/parley/web/static/vendor with a checksum manifest, and committed,
# so nothing else needs Node.js. Run after changing a version there.
assets:
	npm ci --ignore-scripts --no-audit --no-fund
	python3 scripts/assets.py

# The console's screenshots in the README (docs/console/*.png, committed): the demo's scenario
# played on its nodes, each page photographed in Chromium in English and Arabic.
screenshots: $(TEST_STAMP) system-deps
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Catalogues (src/parley/forms/locale): extract the messages of the forms and of the console's
# templates (babel.cfg) into messages.pot, merge them into the ar/en/ru/uk .po files, compile the .mo files. New or changed
# messages come out untranslated or fuzzy: translate them, then run this again.
FORMS_LOCALE := src/parley/forms/locale
.PHONY: i18n
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o $(FORMS_LOCALE)/messages.pot --project=Parley \
		--version=0.1.0 --copyright-holder="Parley contributors" -c TRANSLATORS: \
		--add-location=file src/parley \
	&& $(BIN)/pybabel update -i $(FORMS_LOCALE)/messages.pot -d $(FORMS_LOCALE) -D parley \
		--ignore-obsolete \
	&& $(BIN)/pybabel compile -d $(FORMS_LOCALE) -D parley --statistics
