# Two commands: `make demo` runs the sensor on real footage, `make test` runs the suite.
# Each does its own set-up: Debian packages where missing, a virtual environment, samples.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PACKAGES := edge lab $(wildcard venue)
export HEADCOUNT_SAMPLES ?= $(HOME)/.cache/headcount/samples
# Test processes: two halves the suite's time even on a 2-core machine, since most tests wait
# on real clocks (brokers, paced scenes, browsers). `make test TEST_JOBS=0` runs it in one.
TEST_JOBS ?= 2

# command -> Debian package, installed by `make sysdeps` only where the command is missing
SYSDEPS := mosquitto:mosquitto shellcheck:shellcheck strace:strace systemd-analyze:systemd \
           dpkg-deb:dpkg apt-get:apt openssl:openssl \
           chromium:chromium

.PHONY: all demo test bench lint sysdeps samples venv clean

all: test

sysdeps:
	@missing=""; \
	for pair in $(SYSDEPS); do \
	  cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || [ -x /usr/sbin/$$cmd ] || missing="$$missing $$pkg"; \
	done; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi; \
	if ! apt-cache policy opencv-doc 2>/dev/null | grep -q Candidate; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq; else sudo apt-get update -qq; fi; \
	fi

# The demo needs the package with OpenCV and the embedded broker; the tests and the
# benchmark add the dev tools and the peers measured side by side.
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check -e '.[opencv,demo]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,opencv,demo,bench,verify]'
	$(PY) -m pip install -q --disable-pip-version-check --no-deps 'norfair==2.3.0'
	touch $@

venv: $(VENV)/.installed-test

samples: sysdeps
	@sh seeds/fetch_samples.sh >/dev/null

demo: sysdeps $(VENV)/.installed-demo samples
	$(VENV)/bin/headcount demo --video $(HEADCOUNT_SAMPLES)/vtest.avi

test: sysdeps $(VENV)/.installed-test samples
	$(PY) -m pytest -q -n $(TEST_JOBS) --dist loadfile

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check $(PACKAGES) tests
	$(VENV)/bin/ruff format --check $(PACKAGES) tests
	$(VENV)/bin/mypy

bench: sysdeps $(VENV)/.installed-test samples
	$(VENV)/bin/headcount bench --out benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
