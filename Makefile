PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: generate test lint check drift bench fuzz clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Regenerate generated/ from the bundled cache (creates .venv on first run).
generate: $(STAMP)
	$(BIN)/python -m generator generate

## Lint, type-check and run the whole test suite.
test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/python -m ruff check generator templates/runtime tests
	$(BIN)/python -m ruff check --select I generated tests/golden  # generated imports: isort order
	$(BIN)/python -m mypy --strict generator templates/runtime
	$(BIN)/python -m mypy --strict tests/test_bulk_typing.py
	cd generated && ../$(BIN)/python -m mypy --strict portabilling

## Fails when generated/ is not what the generator produces.
check: $(STAMP)
	$(BIN)/python -m generator generate --check

## Benchmarks against zeep and the raw limits: writes docs/benchmarks.md and docs/bench-results.json.
bench: $(STAMP)
	$(BIN)/python tests/bench/run.py

## The long fuzz run: 10 000 mutated replies per transport (make test runs 1 000), random seeds.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=10000 FUZZ_RANDOM=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_fuzz.py

## API drift between the two shared releases, as the markdown a pull request would get.
SHARED ?= ../shared/wsdl/portabilling
drift: $(STAMP)
	$(BIN)/python -m generator drift $(SHARED)/mr100 $(SHARED)/mr105 --format markdown --fail-on never

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
