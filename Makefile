# Two entry points (see README): `make run` and `make test`. Both set up what is missing first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
BUNDLE := modalchorus_widget/static/widget.js
# the same front end with its test hooks, for the browser tests and the widget benchmark (not shipped)
TEST_BUNDLE := js/dist/widget.test.js
JS_SRC := $(wildcard js/src/*.js js/src/ui/*.js) js/src/widget.css js/package.json js/build.mjs
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup run test test-fast lint browser clean docs wheel

setup: $(BUNDLE) $(TEST_BUNDLE) $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev]"
	@touch $@

js/node_modules/.installed: js/package.json
	cd js && npm install --no-audit --no-fund --loglevel=error
	@touch $@

$(BUNDLE) $(TEST_BUNDLE) &: js/node_modules/.installed $(JS_SRC)
	cd js && npm run --silent build

browser:
	@command -v chromium >/dev/null || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)

# Main job: the quickstart notebook on the embedded default. Headless (CI=true or no display):
# execute it and fail on error; otherwise open it in JupyterLab.
run: setup
	@if [ -n "$$CI" ]; then \
	  $(BIN)/python scripts/run_notebook.py notebooks/quickstart.ipynb; \
	else \
	  $(BIN)/jupyter lab notebooks/quickstart.ipynb; \
	fi

# Lint: ruff (lint + format) and eslint, plus the layout rules (no import cycle, no module over 600 lines,
# nothing in the package reaching into the repository's folders).
lint: setup
	$(BIN)/python scripts/check_layout.py

# The documentation site, built to site/ with --strict (a broken link, a missing reference or a docstring
# griffe cannot read fails it); the case-study notebooks are executed into it. The generated parts (API pages,
# tables of figures from docs/figures/*.json) must be up to date: `python scripts/gen_docs.py` regenerates them.
docs: setup
	$(BIN)/python scripts/gen_docs.py --check
	NO_MKDOCS_2_WARNING=1 DOCS_EXECUTE=$${DOCS_EXECUTE:-true} $(BIN)/mkdocs build --strict --quiet

# The wheel, with the front-end bundle, the CSS, the shipped weights and the COCO-500 data inside.
wheel: setup
	rm -rf dist
	$(BIN)/python -m build --wheel --outdir dist .
	$(BIN)/check-wheel-contents dist/*.whl

# All tests: lint, JS unit tests (vitest), Python unit tests, notebooks, the wheel in a clean environment
# (tests/e2e/test_wheel.py), browser tests (real JupyterLab + Chromium), then the docs build.
test: setup browser lint
	cd js && npm test --silent
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory docs

# The fast tier, for the edit-test loop: the Python tests without the browser (e2e), slow and notebook ones
# (under 3 minutes on a 2-core machine). CI runs `make test`.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not e2e and not slow and not notebook"

clean:
	rm -rf $(VENV) js/node_modules $(BUNDLE) modalchorus_widget/static/widget.css site dist
