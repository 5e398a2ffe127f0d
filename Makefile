PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: generate test test-alone lint check drift bench fuzz clean peers wheel

# What the tests need beyond Python: the SOAP::Lite peer (simulator and interop tests), openssl
# (the TLS pool test's certificate) and PostgreSQL's binaries (the event-store tests start their own
# server on loopback). Installed with apt-get when this runs as root; otherwise `make test` stops
# at once and prints the one command that installs them.
APT_PACKAGES := libsoap-lite-perl libhttp-daemon-perl openssl postgresql
PERL_MODULES := -MSOAP::Lite -MSOAP::Transport::HTTP -MHTTP::Daemon -MJSON::PP

$(STAMP): pyproject.toml
	@$(PY) -m venv $(VENV) || { echo "python3 -m venv failed: install it with  sudo apt-get install -y python3-venv" >&2; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Regenerate generated/ from the bundled cache (creates .venv on first run).
generate: $(STAMP)
	$(BIN)/python -m generator generate

## Lint, type-check and run the whole test suite (installs the SOAP::Lite peer first if it can).
# `lint` (one single-threaded mypy process) runs beside the test suite rather than before it: its
# output is shown when both are done, and either failing fails `make test`. The suite writes
# bytecode caches (__pycache__, git-ignored) even where the environment sets
# PYTHONDONTWRITEBYTECODE: the generator and the generated package are imported by both workers and
# by the many subprocesses the tests start, and each would compile them from source again.
# The ten slowest tests are listed: keep new tests lean.
test: peers $(STAMP)
	@$(MAKE) --no-print-directory lint > $(VENV)/lint.log 2>&1 & lint=$$!; \
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n 2 -q --durations=10; tests=$$?; \
	wait $$lint; linted=$$?; \
	echo "--- make lint (ran beside the tests) ---"; cat $(VENV)/lint.log; \
	if [ $$linted -ne 0 ]; then echo "make lint failed" >&2; fi; \
	[ $$tests -eq 0 ] && [ $$linted -eq 0 ]

## The suite on a copy of the committed tree in a folder with nothing beside it (no ../shared), as a
## contributor's clone has it: the test data it needs is in the repository. CI runs it after `test`.
test-alone: peers $(STAMP)
	@alone=$$(mktemp -d) && trap 'rm -rf "$$alone"' EXIT && \
	git clone --quiet . "$$alone/repo" && cd "$$alone/repo" && \
	test ! -e ../shared && \
	PYTHONPATH="$$alone/repo" PYTHONDONTWRITEBYTECODE= $(CURDIR)/$(BIN)/python -m pytest -n 2 -q -p no:cacheprovider

peers:
	@if perl $(PERL_MODULES) -e 1 2>/dev/null && command -v openssl >/dev/null \
	  && { command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing $(APT_PACKAGES) (apt-get)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES)) >/dev/null \
	    || { echo "apt-get could not install them; run:  apt-get install -y $(APT_PACKAGES)" >&2; exit 1; }; \
	else \
	  echo "make test needs the SOAP::Lite peer, openssl and PostgreSQL; install them with:" >&2; \
	  echo "  sudo apt-get install -y $(APT_PACKAGES)" >&2; exit 1; \
	fi

## The generator's wheel (what users install with pip or pipx): dist/portabilling_bindings-*.whl
wheel: $(STAMP)
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation -w dist .
	rm -rf build

# One mypy process for all four (the generator, the runtime sources, the generated package and
# the typing test): the standard library and the dependencies are analysed once, not three times.
lint: $(STAMP)
	$(BIN)/python -m ruff check generator templates/runtime tests
	$(BIN)/python -m ruff check --select I generated tests/golden  # generated imports: isort order
	# tests/readme/myapp: README's example project, checked as users would write it (package bases
	# explicit: its modules are `myapp.*`, found through mypy_path like the generated package)
	$(BIN)/python -m mypy --strict --explicit-package-bases generator templates/runtime generated/portabilling \
		tests/test_bulk_typing.py tests/test_stub_typing.py tests/readme/myapp

## Fails when generated/ is not what the generator produces.
check: $(STAMP)
	$(BIN)/python -m generator generate --check

## Benchmarks against zeep and the raw limits: writes docs/benchmarks.md and docs/bench-results.json.
bench: $(STAMP)
	$(BIN)/python tests/bench/run.py

## The long fuzz run: 10 000 mutated replies per transport (make test runs 1 000), random seeds.
fuzz: $(STAMP)
	FUZZ_EXAMPLES=10000 FUZZ_RANDOM=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_fuzz.py

## API drift between the two bundled releases, as the markdown a pull request would get.
RELEASES ?= wsdl_cache
drift: $(STAMP)
	$(BIN)/python -m generator drift $(RELEASES)/mr100 $(RELEASES)/mr105 --format markdown --fail-on never

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
