# Marsad — `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell $(PYTHON) -c "import hashlib;print(hashlib.sha1(open('pyproject.toml','rb').read()+open('constraints.txt','rb').read()).hexdigest()[:12])")

.PHONY: help install run test lint bench eval constraints clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
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

constraints: $(STAMP)  ## upgrade dependencies within pyproject.toml's ranges, test, then pin them in constraints.txt
	$(BIN)/pip install -q --upgrade -e '.[test]'
	$(BIN)/pytest -q
	{ sed -n '1,3p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^marsad'; } > constraints.new
	mv constraints.new constraints.txt

clean:  ## remove the venv and local state
	rm -rf $(VENV) var
