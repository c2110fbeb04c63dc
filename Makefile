# descentlab: every target bootstraps .venv on first use, so on a fresh
# machine `make course` and `make test` are the whole set-up.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.descentlab-installed
# nbgrader shells out to alembic, and the notebooks' kernels must be the
# venv's, so everything runs with the venv first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)
# Keep Numba's on-disk cache inside the checkout (gitignored) unless the
# caller chose a place.
export NUMBA_CACHE_DIR ?= $(abspath .numba_cache)

# The library's tests, run a second time with every kernel as plain Python.
NOJIT_TESTS := tests/optim tests/schedulers tests/layers tests/surfaces tests/test_init.py \
               tests/test_data.py tests/test_models.py tests/test_jit.py

LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings

.PHONY: course test test-attacks test-fast test-nojit lab bench lock clean-venv help chromium sandbox-tools
help:
	@echo "make course   release assignments, run lectures, grade the demo class"
	@echo "make test     the whole test suite (what CI runs)"
	@echo "make lab      JupyterLab on a working copy in work/ (PORT= IP= NO_BROWSER=1 ROLE=student)"
	@echo "make bench    descentlab bench optim"

# Re-runs whenever the pins or the package metadata change.  torch goes
# first, from its pin in the lock: the CPU wheel, never a CUDA build.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$$(grep '^torch==' requirements.lock)"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@mkdir -p $(LAB_SETTINGS)
	@printf '%s\n' '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $(LAB_SETTINGS)/overrides.json
	@touch $@

# descentlab grade runs student code in bubblewrap (course/INTEGRITY.md); install
# it with apt when it is missing and we may, otherwise say why grading will refuse.
sandbox-tools:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1; }; \
	  fi; \
	  command -v bwrap >/dev/null 2>&1 || echo "warning: bubblewrap (bwrap) is not installed; descentlab grade will refuse to grade (see course/INTEGRITY.md)" >&2; }

course: $(STAMP) sandbox-tools
	$(BIN)/descentlab course

# The browser tests (tests/browser) drive Debian's chromium: install it when it is
# missing and apt can (as root); otherwise say so, and those tests skip loudly.
CHROMIUM ?= $(or $(DESCENTLAB_CHROMIUM),/usr/bin/chromium)
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "make: installing chromium for the browser tests (apt)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y --no-install-recommends chromium \
	  || { apt-get update && apt-get install -y --no-install-recommends chromium; } \
	  || echo "make: WARNING: chromium could not be installed; the browser tests will SKIP"; \
	else echo "make: WARNING: no $(CHROMIUM) and no apt as root; the browser tests will SKIP"; fi

# The second run checks the pure-Python fallback of the kernels.  The adversarial
# grading suite (tests/grading/attacks) is part of it; make test-attacks runs it alone.
# --dist loadfile keeps each test module on one worker, so a module fixture (the graded
# demo class, the attack run, a lecture's execution, a JupyterLab server) is built once;
# --dist loadgroup would be the finer tool, but pytest-xdist 3.8's groups are silently
# ignored under pytest 9 (it renames items through an attribute pytest 9 no longer reads).
test: $(STAMP) chromium sandbox-tools
	$(BIN)/python -m pytest -n 2 --dist loadfile
	NUMBA_DISABLE_JIT=1 $(BIN)/python -m pytest -n 2 -p no:cacheprovider -q $(NOJIT_TESTS)

test-attacks: $(STAMP) sandbox-tools
	$(BIN)/python -m pytest -p no:xdist -q tests/grading/attacks

test-fast: $(STAMP)
	$(BIN)/python -m pytest -x -q --hypothesis-profile=dev

test-nojit: $(STAMP)
	NUMBA_DISABLE_JIT=1 $(BIN)/python -m pytest -n 2 -q $(NOJIT_TESTS)

# JupyterLab on work/ (gitignored copies of lectures/ and assignments/, the graded
# demo class, nbgrader's config): `make lab PORT=8890 IP=0.0.0.0 NO_BROWSER=1 ROLE=student`
lab: $(STAMP) sandbox-tools
	$(BIN)/descentlab lab $(if $(PORT),--port=$(PORT)) $(if $(IP),--ip=$(IP)) \
	  $(if $(NO_BROWSER),--no-browser) $(if $(ROLE),--role=$(ROLE))

bench: $(STAMP)
	$(BIN)/descentlab bench optim

# Refresh requirements.lock from what is installed in .venv (after changing a pin).
lock: $(STAMP)
	{ sed -n '/^#/p' requirements.lock; echo "setuptools==$$($(BIN)/python -c 'import setuptools; print(setuptools.__version__)')"; \
	  $(BIN)/python -m pip freeze --exclude-editable | sed 's/^torch==\([0-9.]*\)+cpu/torch==\1/'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean-venv:
	rm -rf $(VENV)
