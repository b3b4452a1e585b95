# Two commands on a fresh machine: `make demo` and `make test`. Each makes
# .venv and installs everything on first use (the stamp re-runs the install
# when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: all test demo bench soak missions typecheck lint clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# on every core (pytest-xdist): the suite is CPU-bound, one core would take
# over 10 minutes
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q -n auto

# ruff over the whole tree, with the rules pinned in pyproject.toml
lint: $(STAMP)
	$(BIN)/ruff check .

# Two runs: the host on CPython's typeshed; the board HAL against the rp2
# stubs, linked into build/rp2-stubs (they are loose .pyi files in
# site-packages, which mypy does not pick up on its own).
typecheck: $(STAMP)
	$(BIN)/python -m mypy --config-file mypy.ini
	rm -rf build/rp2-stubs && mkdir -p build/rp2-stubs
	SP=$$($(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"); \
	  ln -s $$SP/*.pyi $$SP/rp2 build/rp2-stubs/ && rm build/rp2-stubs/__builtins__.pyi
	$(BIN)/python -m mypy --config-file mypy-board.ini

demo: $(STAMP)
	$(BIN)/python -m podctl.demo

bench: $(STAMP)
	$(BIN)/python -m tests.bench

# The long sweeps (tests/soak.py): figures into build/bench.json, _soak names
soak: $(STAMP)
	$(BIN)/python -m tests.soak

# The slow target: every scenario at its own 1-second tick on both engines
# (make test runs them on a 10-second tick).
missions: $(STAMP)
	PODCTL_SIM_TICK=1 $(BIN)/python -m pytest -q tests/test_sim_missions.py -k scenario

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache
