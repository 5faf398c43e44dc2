# Audit Workbench: the two commands a newcomer needs are `make demo` and `make test`.
# Everything installs into .venv from pinned versions (constraints.txt); nothing is global.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?=

.PHONY: help install browser demo test bench lab clean

help:
	@echo "make demo    set up .venv, build the demo company and run its two periods (Q2, roll-forward, Q3)"
	@echo "make test    set up .venv with the test tools, check the code with ruff and run the whole test suite"
	@echo "make bench   run the speed and memory benchmarks (prints figures; not part of test)"
	@echo "make lab     open JupyterLab on the exception explorer (after make demo)"
	@echo "make clean   remove .venv and generated outputs"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit("Audit Workbench needs Python 3.11 or newer; found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@# bytecode of the package now: where PYTHONDONTWRITEBYTECODE is set, every command would compile it again
	$(BIN)/python -m compileall -q src
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/workbench demo $(if $(JOBS),--jobs $(JOBS))

test: $(STAMP) browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax -p no:cacheprovider

# Chromium (the Debian package) for tests/test_browser.py, which opens every workpaper offline.
# Installed when missing if we can (root with apt-get, as on CI); otherwise the browser test skips
# locally, and fails in CI (CI=true), where it must run.
browser:
	@if [ -n "$$WORKBENCH_CHROMIUM" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Chromium for the workpaper browser test (apt-get install chromium) ..."; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
	  echo "note: Chromium is not installed and cannot be installed here (needs root and apt-get);"; \
	  echo "      tests/test_browser.py will skip (it fails when CI is set)."; \
	fi

# Every benchmark under benchmarks/ (sampling, populations, period run); figures only, no asserts.
bench: $(STAMP)
	@set -e; for bench in benchmarks/bench_*.py; do echo "== $$bench"; $(BIN)/python $$bench; echo; done

LAB_STAMP := $(VENV)/.lab-installed
$(LAB_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[lab]'
	@touch $(LAB_STAMP)

lab: $(LAB_STAMP)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) src/workbench/notebooks/explore_exceptions.ipynb

clean:
	rm -rf $(VENV) outputs/*/ data/demo
