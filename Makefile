# Two commands do all set-up on a fresh machine: `make lab` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The tested set: pip installs within pyproject's ranges, held to these versions.
LOCK := requirements/lock.txt
# `make test-newest`: the newest versions the ranges allow, in a venv of its own.
NEWEST_VENV := .venv-newest
# Sample twins and downloads live in one project-local cache, shared by the lab and the tests.
export LRS_HELPERS_CACHE ?= $(CURDIR)/.cache/lrs_helpers
# The stored notebook outputs are made from the sample twins, so tests use them too.
TEST_ENV := LRS_HELPERS_SOURCE=sample
LAB_DIR ?= notebooks
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root,)
HTML_DIR ?= build/html

.PHONY: lab test test-newest lock sample notebooks html bench mutate install system-deps clean

# One pip command per extra (lab, docs, test), so the resolver sees every range at once
# (jwst 3.0 needs asdf<6); each extra is installed once and again when pyproject or the lock change.
$(VENV)/.installed-%: pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(LOCK) -e ".[$*]"
	touch $@

# everything: the package, JupyterLab, the docs tools and the test tools
install: $(VENV)/.installed-test

# The browser test drives Debian's Chromium through Playwright. Without apt-get, or when the
# install fails, the test says so: skipped, or failed when LRS_REQUIRE_BROWSER=1 (CI).
system-deps:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium \
			|| echo "chromium could not be installed: the browser test will not run"; \
	fi

sample: $(VENV)/.installed-lab
	$(BIN)/lrs-helpers sample

lab: sample
	$(BIN)/jupyter lab $(LAB_FLAGS) --notebook-dir=$(LAB_DIR) $(LAB_ARGS)

test: $(VENV)/.installed-test sample system-deps
	$(TEST_ENV) $(BIN)/python -m pytest tests
	$(TEST_ENV) $(BIN)/python -m pytest --nbval notebooks \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600 -p no:cacheprovider

notebooks: sample
	$(TEST_ENV) $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=600 notebooks/*.ipynb

# The Sphinx site: README tour, the executed notebooks as stored (not executed), the API reference.
# -W: a warning fails the build. notebooks/ is only read (docs/conf.py copies it into docs/notebooks).
html: $(VENV)/.installed-docs
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs $(HTML_DIR)

# The newest versions pyproject's ranges allow (no lock), in a fresh venv beside .venv, then the
# unit tests with twins built there, run against the installed (non-editable) package; prints the
# versions it tested. Not part of `make test`. The lab, browser and docs tests need .venv's tools.
test-newest:
	rm -rf $(NEWEST_VENV)
	$(PYTHON) -m venv $(NEWEST_VENV)
	$(NEWEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade ".[test]"
	$(NEWEST_VENV)/bin/python -m pip list --disable-pip-version-check --format=freeze \
		| grep -iE '^(jwst|stcal|stdatamodels|asdf|gwcs|numpy|scipy|astropy|specutils|photutils|matplotlib)=='
	LRS_HELPERS_CACHE=$(CURDIR)/.cache/newest $(NEWEST_VENV)/bin/lrs-helpers sample
	cd $(NEWEST_VENV) && LRS_HELPERS_CACHE=$(CURDIR)/.cache/newest $(TEST_ENV) bin/python -m pytest \
		$(CURDIR)/tests -p no:cacheprovider --rootdir=$(CURDIR) \
		--ignore=$(CURDIR)/tests/test_browser.py --ignore=$(CURDIR)/tests/test_lab.py \
		--ignore=$(CURDIR)/tests/test_html.py

# Refresh the lock from the current .venv (after a deliberate upgrade that passed `make test`).
lock:
	{ echo "# The versions \`make install\` holds pip to (constraints); \`make lock\` rewrites this file."; \
	  $(BIN)/python -m pip freeze --all --exclude-editable --disable-pip-version-check \
		| grep -viE '^(pip|lrs[-_]helpers)=='; } > $(LOCK)

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
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(LOCK) -e ".[test,mutate]"
	$(BIN)/python benchmarks/mutate.py --every $(EVERY) $(MODULE)

clean:
	rm -rf $(VENV) $(NEWEST_VENV) .cache
