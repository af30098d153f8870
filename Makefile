# lenscore: `make demo` and `make test` do all the set-up on a fresh machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
# Every pip call goes through constraints.txt: it pins torch to the local CPU build
# (an unpinned torch pulls several GB of CUDA packages) and OpenCV to 4.x.
PIP     := $(BIN)/pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: demo test bench validate browser clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(PIP) -e '.[dev,clip,dask]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lenscore demo --out demo

validate: $(STAMP)
	$(BIN)/lenscore validate --out validation

# Headless Chromium for the report's browser test (Debian package; skipped with a reason if it cannot be installed).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "note: chromium not installed; the browser test will be skipped"

test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_suite.py

clean:
	rm -rf $(VENV) demo validation .pytest_cache
