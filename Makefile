# Two idempotent set-up commands for a fresh machine (see README.md):
#   make demo   create .venv if missing, install the kit, run `aiops demo`   (ARGS="--port 8000 ...")
#   make test   create .venv if missing, install the kit and test tools, run the tests (PYTEST_ARGS=...)
# The integration tests need the real binaries: sudo apt-get install --no-install-recommends prometheus prometheus-alertmanager chromium chromium-driver docker-compose

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.aiops-installed
INSTALL_CMD := apt-get install --no-install-recommends prometheus prometheus-alertmanager chromium chromium-driver docker-compose
ARGS ?=
BINARIES ?= prometheus promtool prometheus-alertmanager amtool chromium chromedriver docker-compose
PYTEST_ARGS ?= -rfEs
# The tests run on both cores (pytest-xdist); each test file stays on one worker (--dist loadfile), so an
# integration module's stack is started once. (Not --dist loadgroup: pytest-xdist 3.8 marks a group by
# rewriting Item._nodeid, which pytest 9 no longer reads, so groups were silently split across workers.)
TEST_JOBS ?= 2

.PHONY: demo test binaries venv clean

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalled only when pyproject.toml changes; the install is editable, so code edits need nothing.
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "installing the kit into $(VENV) (pip install -e '.[test]') ..."
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/aiops demo $(ARGS)

test: $(STAMP) binaries
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS)

# Root with apt-get: installs the binaries. Otherwise: says how, and the integration tests skip
# (or fail, under AIOPS_REQUIRE_INTEGRATION=1).
binaries:
	@missing=""; for b in $(BINARIES); do \
	  command -v $$b >/dev/null 2>&1 || missing="$$missing $$b"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "missing:$$missing; installing them ($(INSTALL_CMD))"; \
	  bash .ci/run --install-only; \
	else \
	  echo "missing:$$missing; the integration tests need them. Install with:"; \
	  echo "    sudo $(INSTALL_CMD)"; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache
