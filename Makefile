# Every target works on a fresh machine: `make install` builds .venv from
# pyproject.toml, pinned by constraints.txt.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install test demo protos lint typecheck bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(VENV)/bin/claimstream build-models
	touch $(STAMP)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

demo: install
	$(VENV)/bin/claimstream demo

# Regenerate the committed protobuf/gRPC code (tests/unit/core/test_protos.py fails when it is stale).
protos: install
	$(PY) -m grpc_tools.protoc -I protos --python_out=services --pyi_out=services \
		--grpc_python_out=services protos/claimstream/v1/*.proto

lint: typecheck
	$(VENV)/bin/ruff check services tests benchmarks tools fuzz

# mypy over the package (services/claimstream; settings in pyproject.toml [tool.mypy]). CI runs it before the tests.
typecheck: install
	$(VENV)/bin/mypy

bench: install
	$(PY) -m benchmarks.run all

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache build *.egg-info services/*.egg-info
