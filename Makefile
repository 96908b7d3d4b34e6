# Entry points: `make demo` (the main job), `make test`, `make docs`,
# `make reproduce` and `make bench`. TensorFlow's start-up lines are dropped
# by modelzoo itself (modelzoo/quiet.py); --verbose shows them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= data/tfds

.PHONY: venv demo test test-fast clean docs

# The demo needs modelzoo and its dependencies only (from PyPI).
$(BIN)/activate: setup.py
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $(BIN)/activate

venv: $(BIN)/activate

# The tests also need the test extra (pytest, pytest-xdist, pytest-timeout, hypothesis, matplotlib).
$(BIN)/.test-extra: $(BIN)/activate
	$(BIN)/pip install -q -e '.[test]'
	touch $@

FASHION_SRC ?= /usr/share/datasets/fashion-mnist
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: fashion-mnist
fashion-mnist:
	@[ -d $(FASHION_SRC) ] || { command -v apt-get >/dev/null && \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist; } || \
	  { echo "$(FASHION_SRC) is missing; install Debian's dataset-fashion-mnist" >&2; exit 1; }

# Offline: real Fashion-MNIST from Debian → TFDS → train → export → serve one image.
demo: venv fashion-mnist
	$(BIN)/modelzoo data import-idx --name fashion_mnist --src $(FASHION_SRC) --data_dir $(DATA_DIR)
	$(BIN)/python recipes/mnist_mlp.py --dataset=fashion_mnist --data_dir=$(DATA_DIR) \
	  --download=false --seed=0
	$(BIN)/modelzoo predict --model saved_models/fashion_mnist_mlp --dataset fashion_mnist \
	  --data_dir $(DATA_DIR) --count 3

# Both cores: pytest-xdist runs the tests in two processes.
TEST_WORKERS ?= 2
test: $(BIN)/.test-extra
	$(BIN)/python -m pytest -q -rs --durations=40 -n $(TEST_WORKERS) --dist worksteal

test-fast: $(BIN)/.test-extra
	$(BIN)/python -m pytest -q -m "not slow" -n $(TEST_WORKERS) --dist worksteal

# The result tables in docs/ and the README's headline column, written from
# benchmarks/results/*.json (benchmarks/docs_figures_test.py checks they agree).
docs: venv
	$(BIN)/python benchmarks/docs_figures.py

# The Python session in docs/presets.md, run on real data and written into the doc.
.PHONY: presets-session
presets-session: venv
	$(BIN)/python benchmarks/presets_transcript.py --doc docs/presets.md

# make demo's three steps, timed in a scratch folder: benchmarks/results/demo.json
# (the README's demo figures and transcript), then `make docs`.
.PHONY: demo-record
demo-record: venv fashion-mnist
	$(BIN)/python benchmarks/demo_run.py --src $(FASHION_SRC)
	$(BIN)/python benchmarks/docs_figures.py

clean:
	rm -rf $(VENV) *.egg-info

# Benchmarks: modelzoo against its peers on the real offline data, all in
# one run of benchmarks/run.py; results in benchmarks/results/, then `make docs`.
# The data share make reproduce's folder: Fashion-MNIST from Debian, and Tiny
# Shakespeare prepared by TFDS's own builder from $(SHARED_DATA)/tfds_manual.
# BENCH_ARGS passes flags through, e.g. BENCH_ARGS="--sections=mlp,serving" or "--tiny".
# Every section runs BENCH_ROUNDS paired rounds (each row: median, min, max):
# ~20-25 minutes on 2 cores for the default 3.
# torch is pinned to its CPU build (the "+cpu" wheel; plain torch==2.13.0 on
# Linux is the CUDA build), from PyTorch's CPU index or a local find-links;
# TORCH_INDEX= (empty) skips the index.
REAL_DATA_DIR ?= data/real
SHARED_DATA ?= ../shared/data
BENCH_ARGS ?=
BENCH_ROUNDS ?= 3
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
.PHONY: bench
bench: venv fashion-mnist
	@$(BIN)/python -c "import matplotlib, torch; assert torch.__version__ == '2.13.0+cpu'" 2>/dev/null || \
	  $(BIN)/pip install -q $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) \
	    matplotlib 'torch==2.13.0+cpu'
	$(BIN)/modelzoo data import-idx --name fashion_mnist --src $(FASHION_SRC) --data_dir $(REAL_DATA_DIR)
	$(BIN)/modelzoo data prepare --name tiny_shakespeare --manual_dir $(SHARED_DATA)/tfds_manual \
	  --data_dir $(REAL_DATA_DIR)
	$(BIN)/python benchmarks/run.py --data_dir=$(REAL_DATA_DIR) --rounds=$(BENCH_ROUNDS) $(BENCH_ARGS)
	$(BIN)/python benchmarks/docs_figures.py

# The long GPT measurement make bench leaves out: both GPTs trained for 600 s
# each, held-out loss at 100/300/600 s on all 871 test windows, in its own
# folder (~21 minutes for 3 rounds on 2 cores).
BENCH_LONG_OUT ?= benchmarks/results/gpt_long
.PHONY: bench-long
bench-long: venv
	$(BIN)/modelzoo data prepare --name tiny_shakespeare --manual_dir $(SHARED_DATA)/tfds_manual \
	  --data_dir $(REAL_DATA_DIR)
	$(BIN)/python benchmarks/run.py --data_dir=$(REAL_DATA_DIR) --sections=gpt_long \
	  --rounds=$(BENCH_ROUNDS) --out=$(BENCH_LONG_OUT) $(BENCH_ARGS)

# Recipe commands from command to exit (mnist_mlp, imdb_transformer,
# shakespeare_gpt --epochs=2) beside their training time and fixed costs,
# one round by default (~8 minutes on 2 cores).
BENCH_E2E_OUT ?= benchmarks/results/e2e
BENCH_E2E_ROUNDS ?= 1
.PHONY: bench-e2e
bench-e2e: venv
	$(BIN)/modelzoo data import-imdb --src $(SHARED_DATA)/imdb_reviews/aclImdb_labelled.tar.gz \
	  --data_dir $(REAL_DATA_DIR)
	$(BIN)/python benchmarks/run.py --data_dir=$(REAL_DATA_DIR) --sections=e2e \
	  --rounds=$(BENCH_E2E_ROUNDS) --out=$(BENCH_E2E_OUT) $(BENCH_ARGS)

# Every recipe at its defaults on its real dataset: Fashion-MNIST
# from Debian, the rest from $(SHARED_DATA). MNIST and Tiny Shakespeare are
# prepared by TFDS's own builders from their original downloads (--manual_dir).
# Results: benchmarks/results/reproduce.{json,md}, then `make docs`; exports: saved_models/.
REPRODUCE_ARGS ?=
.PHONY: reproduce
reproduce: venv fashion-mnist
	$(BIN)/modelzoo data import-idx --name fashion_mnist --src $(FASHION_SRC) --data_dir $(REAL_DATA_DIR)
	$(BIN)/modelzoo data import-imdb --src $(SHARED_DATA)/imdb_reviews/aclImdb_labelled.tar.gz \
	  --data_dir $(REAL_DATA_DIR)
	$(BIN)/modelzoo data import-squad --src $(SHARED_DATA)/tfds_manual/dev-v1.1.json \
	  --data_dir $(REAL_DATA_DIR)
	$(BIN)/python benchmarks/reproduce.py --data_dir=$(REAL_DATA_DIR) \
	  --manual_dir=$(SHARED_DATA)/tfds_manual $(REPRODUCE_ARGS)
	$(BIN)/python benchmarks/docs_figures.py
