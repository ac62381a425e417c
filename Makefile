# Marsad — `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell $(PYTHON) -c "import hashlib,sys;print(hashlib.sha1(open('pyproject.toml','rb').read()).hexdigest()[:12])")

.PHONY: help install run test lint bench eval clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)  ## create .venv and install Marsad with its test tools

run: $(STAMP)  ## run everything on this machine (embedded Redis, worker, beat); Ctrl-C stops
	$(BIN)/marsad up

test: $(STAMP)  ## install what the tests need and run them all
	$(BIN)/pytest -q

lint: $(STAMP)  ## ruff + mypy --strict
	$(BIN)/ruff check feeds workers tests bench eval scripts
	$(BIN)/mypy

bench: $(STAMP)  ## run the benchmarks (reads ../shared when present)
	for b in bench/*_bench.py; do $(BIN)/python $$b || exit 1; done

eval: $(STAMP)  ## score the classifier and the topic watches against the gold labels
	$(BIN)/marsad eval

clean:  ## remove the venv and local state
	rm -rf $(VENV) var
