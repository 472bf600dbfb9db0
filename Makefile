# sia_sandbox: `make test` and `make run TASK=...` work as the first command on a fresh Debian 12 machine:
# they install what is missing (system packages, the .venv, the project) and are quick when it is there.

SHELL := /bin/bash
PYTHON ?= /usr/bin/python3.11
VENV := .venv
PY := $(VENV)/bin/python
TASK ?= trimul
MAX_GEN ?= 6
MODEL ?= gemma3-270m
RUN_ID ?= $(TASK)-$(shell date +%Y%m%d-%H%M%S)
PYTEST_ARGS ?=
SYSTEM_PKGS := bubblewrap python3.11-venv debootstrap docker.io chromium
INSTALL_STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: install system-deps test run images doctor bench clean

install: system-deps $(INSTALL_STAMP)

# Only calls apt when a package is missing, so a second `make test` spends no time here.
system-deps:
	@missing=""; for p in $(SYSTEM_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Editable install in "compat" mode: a plain path in a .pth file. The default mode installs an import
# finder that costs every Python start ~30 ms, inside each sandbox too.
# The venv is built from Debian's python3.11 (under /usr) so a sandbox can mount it read-only without
# exposing the home directory a pyenv/conda interpreter would live in.
$(INSTALL_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,docker,modal,train,gateway,report,gpu]' --config-settings editable_mode=compat
	@rm -f $(VENV)/.installed-*; touch $@

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

run: install
	$(VENV)/bin/sia run --task $(TASK) --max-gen $(MAX_GEN) --run-id $(RUN_ID) --agent auto --model $(MODEL)

images: install
	scripts/start_dockerd.sh
	scripts/build_images.sh

doctor: install
	$(VENV)/bin/sia doctor

bench: install
	$(PY) benchmarks/sandbox_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache
