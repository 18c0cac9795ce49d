# The two entry points of the README. `make` = `make sweep`.
.PHONY: sweep test bench setup
VENV := .venv/bin

sweep: .venv/.ready
	$(VENV)/fastvlm-explore sweep studies/quick.toml

test: .venv/.ready
	$(VENV)/python -m pytest -q

bench: .venv/.ready
	$(VENV)/python -m benchmarks.run_all

setup .venv/.ready: scripts/setup.sh pyproject.toml
	scripts/setup.sh
	touch .venv/.ready
