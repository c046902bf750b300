# Two commands: `make demo` runs the sensor on real footage, `make test` runs the suite.
# Each does its own set-up: Debian packages where missing, a virtual environment, samples.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= dev,opencv,demo
export HEADCOUNT_SAMPLES ?= $(HOME)/.cache/headcount/samples

# command -> Debian package, installed by `make sysdeps` only where the command is missing
SYSDEPS := mosquitto:mosquitto shellcheck:shellcheck strace:strace systemd-analyze:systemd \
           dpkg-deb:dpkg apt-get:apt openssl:openssl

.PHONY: all demo test bench lint typecheck sysdeps samples venv clean

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

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[$(EXTRAS)]'
	touch $(STAMP)

venv: $(STAMP)

samples: sysdeps
	@sh seeds/fetch_samples.sh >/dev/null

demo: sysdeps venv samples
	$(VENV)/bin/headcount demo --video $(HEADCOUNT_SAMPLES)/vtest.avi

test: sysdeps venv samples
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check edge tests
	$(VENV)/bin/ruff format --check edge tests
	$(VENV)/bin/mypy

bench: sysdeps samples
	$(MAKE) venv EXTRAS=dev,opencv,demo,bench STAMP=$(VENV)/.installed-bench
	$(VENV)/bin/headcount bench --out benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
