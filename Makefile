# Two entry points: `make demo` (the main job) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= data/tfds
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: venv demo test test-fast clean

$(BIN)/activate: setup.py
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/activate

venv: $(BIN)/activate

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
test: venv
	$(BIN)/python -m pytest -q -rs --durations=15 -n $(TEST_WORKERS)

test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow" -n $(TEST_WORKERS)

clean:
	rm -rf $(VENV) *.egg-info

# Benchmarks (issue #6, #14): modelzoo against its peers on the real offline
# data, all in one run of benchmarks/run.py; results in benchmarks/results/.
# The data share make reproduce's folder: Fashion-MNIST from Debian, and Tiny
# Shakespeare prepared by TFDS's own builder from ../shared/data/tfds_manual.
# BENCH_ARGS passes flags through, e.g. BENCH_ARGS="--sections=mlp,serving" or "--tiny".
REAL_DATA_DIR ?= data/real
SHARED_DATA ?= ../shared/data
BENCH_ARGS ?=
.PHONY: bench
bench: venv fashion-mnist
	@$(BIN)/python -c "import matplotlib, torch" 2>/dev/null || \
	  $(BIN)/pip install -q matplotlib torch==2.13.0
	$(BIN)/modelzoo data import-idx --name fashion_mnist --src $(FASHION_SRC) --data_dir $(REAL_DATA_DIR)
	$(BIN)/modelzoo data prepare --name tiny_shakespeare --manual_dir $(SHARED_DATA)/tfds_manual \
	  --data_dir $(REAL_DATA_DIR)
	$(BIN)/python benchmarks/run.py --data_dir=$(REAL_DATA_DIR) $(BENCH_ARGS)

# Every recipe at its defaults on its real dataset (issue #11): Fashion-MNIST
# from Debian, the rest from ../shared/data. MNIST and Tiny Shakespeare are
# prepared by TFDS's own builders from their original downloads (--manual_dir).
# Results: benchmarks/results/reproduce.{json,md}; exports: saved_models/.
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
