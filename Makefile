# Two commands do all set-up on a fresh machine: `make lab` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Sample twins and downloads live in one project-local cache, shared by the lab and the tests.
export LRS_HELPERS_CACHE ?= $(CURDIR)/.cache/lrs_helpers
# The stored notebook outputs are made from the sample twins, so tests use them too.
TEST_ENV := LRS_HELPERS_SOURCE=sample
LAB_DIR ?= notebooks
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root,)
HTML_DIR ?= build/html

.PHONY: lab test sample notebooks html bench mutate install system-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# One pip command, so the resolver sees every pin at once (jwst 3.0 needs asdf<6).
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# The browser test drives Debian's Chromium through Playwright. Without apt-get, or when the
# install fails, the test says so: skipped, or failed when LRS_REQUIRE_BROWSER=1 (CI).
system-deps:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium \
			|| echo "chromium could not be installed: the browser test will not run"; \
	fi

sample: $(STAMP)
	$(BIN)/lrs-helpers sample

lab: sample
	$(BIN)/jupyter lab $(LAB_FLAGS) --notebook-dir=$(LAB_DIR) $(LAB_ARGS)

test: sample system-deps
	$(TEST_ENV) $(BIN)/python -m pytest tests
	$(TEST_ENV) $(BIN)/python -m pytest --nbval notebooks \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600 -p no:cacheprovider

notebooks: sample
	$(TEST_ENV) $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=600 notebooks/*.ipynb

# The executed notebooks as a static site (no execution; notebooks/ is only read).
html: $(STAMP)
	$(BIN)/python -m lrs_helpers.site $(HTML_DIR)

bench: sample
	@mkdir -p benchmarks/results
	@for script in benchmarks/bench_*.py; do \
		echo "== $$script"; \
		$(BIN)/python $$script | tee benchmarks/results/$$(basename $$script .py).json || exit 1; \
	done

# Mutation testing of the core modules (slow; not part of `make test`): MODULE=emi for one module,
# default all (scope in benchmarks/mutation.toml, results in benchmarks/results/mutation_*.json);
# EVERY=3 runs every third mutant only (a quicker, sampled score).
MODULE ?= all
EVERY ?= 1
mutate: sample
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,mutate]"
	$(BIN)/python benchmarks/mutate.py --every $(EVERY) $(MODULE)

clean:
	rm -rf $(VENV) .cache
