# DPT in Swift. `make test` is the test command (CI runs exactly this); `make demo` is the main job.
SHELL := /bin/bash
SYSTEM_PACKAGES := libopenblas-dev libpng-dev zlib1g-dev pkg-config
VENV := Tools/reference/.venv

.PHONY: test deps demo build reference-env clean reproduce fuzz

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

## DataIO's two libFuzzer targets (ASan), each run FUZZ_SECONDS from the committed corpus into a scratch corpus.
## lld links them (gold fails on the ASan objects). RSS limit 512 MB: ASan's quarantine alone holds up to 256 MB
## of freed memory; the 64 MB goal is checked per allocation (-malloc_limit_mb) and, for PNG, per decode in the target.
FUZZ_SECONDS ?= 120
FUZZ_DIR := Packages/DataIO/Fuzz
FUZZ_BUILD := $(FUZZ_DIR)/.build
fuzz: deps
	@if ! command -v ld.lld >/dev/null && [ ! -x "$$(dirname "$$(readlink -f "$$(command -v swift)")")/ld.lld" ]; then \
	  echo "installing: lld"; SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq lld; \
	fi
	swift build -c release --package-path $(FUZZ_DIR) --scratch-path $(FUZZ_BUILD) \
	  -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xcc -fsanitize=fuzzer-no-link,address
	mkdir -p $(FUZZ_BUILD)/corpus/png $(FUZZ_BUILD)/corpus/safetensors $(FUZZ_BUILD)/artifacts
	$(FUZZ_BUILD)/release/fuzz-png $(FUZZ_BUILD)/corpus/png $(FUZZ_DIR)/corpus/png -max_total_time=$(FUZZ_SECONDS) \
	  -max_len=8192 -rss_limit_mb=512 -malloc_limit_mb=64 -timeout=10 -artifact_prefix=$(FUZZ_BUILD)/artifacts/ -print_final_stats=1
	$(FUZZ_BUILD)/release/fuzz-safetensors $(FUZZ_BUILD)/corpus/safetensors $(FUZZ_DIR)/corpus/safetensors \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -rss_limit_mb=512 -malloc_limit_mb=64 -timeout=10 \
	  -artifact_prefix=$(FUZZ_BUILD)/artifacts/ -print_final_stats=1
