# Set-up and the two main jobs. `make setup` is idempotent; `assess` and `test` depend on it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
APT_PACKAGES := chromium fonts-noto-cjk tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-chi-tra
WORKERS ?= auto
ASSESS_ARGS ?= --channel all -n $(WORKERS)

.PHONY: setup system-packages assess test test-full lint bench clean

setup: system-packages $(STAMP)

# Debian packages: installed only when running as root and something is missing.
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "warning: missing system packages:$$missing (install them as root; OCR and probe images need them)"; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,browser,load]'
	touch $(STAMP)

# A full assessment of the embedded reference site (API, browser and load channels; the load
# stage is bounded by the policy's `load:` section, 30 s by default), with its report under
# reports/.
assess: setup
	$(BIN)/harness assess $(ASSESS_ARGS)

# The harness's own tests: unit, plugin, reference site and the detection matrix, each fault
# run scoped to its own control. `--dist worksteal`: an idle worker takes tests from the tail of
# the other's queue (the tests are ordered longest first, tests/conftest.py).
# `make test-full` adds the tests marked `full`: each strict fault assessed over every strict
# control, failing exactly its own.
PYTEST_ARGS := -n $(WORKERS) --dist worksteal -p no:cacheprovider --durations=15

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-full: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS) --full

# The load bench compares the harness's Locust users with wrk (Debian's), installed here only.
bench: setup
	@$(MAKE) --no-print-directory system-packages APT_PACKAGES=wrk
	$(BIN)/python bench/bench_api.py
	$(BIN)/python bench/bench_reports.py
	$(BIN)/python bench/bench_variants.py
	$(BIN)/python bench/bench_images.py
	$(BIN)/python bench/bench_evidence.py
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_gate.py
	$(BIN)/python bench/bench_browser.py

clean:
	rm -rf $(VENV) reports/2* reports/latest
