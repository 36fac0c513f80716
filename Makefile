# The README's two commands: `make demo` and `make test`. Both set up everything first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED = 1

# Tests run on pytest-xdist workers, one per core by default; tests/conftest.py
# gives each worker its share of the cores for TensorFlow's and BLAS's threads.
TEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest -q -ra -n $(TEST_WORKERS) --dist loadscope

.PHONY: demo test test-fast lint format setup data benchmark clean

setup: $(STAMP) data

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Debian data packages (Fashion-MNIST IDX files, WordNet). Installed when run as
# root; otherwise the image code falls back to the scikit-learn digits and the
# WordNet corpus says how to install it.
data:
	@if [ -d /usr/share/datasets/fashion-mnist ] && [ -f /usr/share/wordnet/data.noun ]; then \
		echo "Fashion-MNIST and WordNet found"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist wordnet-base >/dev/null \
		|| echo "apt-get could not install dataset-fashion-mnist wordnet-base: falling back to scikit-learn digits"; \
	else \
		echo "Not root: skipping 'apt-get install dataset-fashion-mnist wordnet-base' (the demo falls back to scikit-learn digits)"; \
	fi

demo: setup
	$(PY) -m zoo.demo --model_dir=runs/demo --export_base=serving/simclr

# Ruff (configured in pyproject.toml): the formatter's check, then pyflakes' checks,
# syntax errors and import order. `make format` applies the formatter and the import order.
lint: $(STAMP)
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

format: $(STAMP)
	$(PY) -m ruff check --fix --select I .
	$(PY) -m ruff format .

test: setup
	$(PYTEST) --durations=15

# The edit-test loop: every test but the slow ones (learns-tests, zoo and
# benchmark runs, multi-process strategies).
test-fast: setup
	$(PYTEST) -m "not slow"

benchmark: setup
	$(PY) -m zoo.benchmark --suite=simclr --output_dir=benchmarks/simclr

# Run directories and exports; in benchmarks/ only what git ignores (the
# committed results and finished runs stay).
clean:
	rm -rf runs serving .pytest_cache
	-git clean -fdXq benchmarks
