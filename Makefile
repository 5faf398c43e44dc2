# Audit Workbench: the two commands a newcomer needs are `make demo` and `make test`.
# Everything installs into .venv from pinned versions (constraints.txt); nothing is global.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?=

.PHONY: help install demo test bench clean

help:
	@echo "make demo    set up .venv, build the demo company and run its period end to end"
	@echo "make test    set up .venv with the test tools and run the whole test suite"
	@echo "make bench   run the speed and memory benchmarks (prints figures; not part of test)"
	@echo "make clean   remove .venv and generated outputs"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit("Audit Workbench needs Python 3.11 or newer; found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/workbench demo $(if $(JOBS),--jobs $(JOBS))

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_sampling.py

clean:
	rm -rf $(VENV) outputs/*/ data/demo
