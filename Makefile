# DPT in Swift. `make test` is the test command (CI runs exactly this); `make demo` is the main job.
SHELL := /bin/bash
SYSTEM_PACKAGES := libopenblas-dev libpng-dev zlib1g-dev pkg-config
VENV := Tools/reference/.venv

.PHONY: test deps demo build bench reference-env fixtures clean reproduce

## Install the system libraries the packages link against, when missing (needs root or sudo).
deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

## Every package's tests (release configuration: numerics are too slow in debug), then the end-to-end tests.
test: deps
	@bash Tools/run-tests.sh

## The main job: build the tools and run the demo.
demo: deps
	swift run -c release demo

## The whole DPT chain (stage 1 + control, sweep, stage 2, generation variants), writing Docs/results/ (hours on 2 cores).
reproduce: deps
	bash Tools/reproduce.sh

build: deps
	swift build -c release

## Python reference environment (fixtures and benchmarks only; never needed by the tests).
reference-env:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -r Tools/reference/requirements.txt
	$(VENV)/bin/pip install --no-deps open_clip_torch==3.3.0

clean:
	rm -rf .build Packages/*/.build
