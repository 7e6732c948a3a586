# Quick start: `make run` (demo estate + GraphQL at http://127.0.0.1:8000/graphql), `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := .devgraph/demo-estate
NODE_LINT := tools/cypher-lint/node_modules/.package-lock.json
# Semgrep pins rich, click and pydantic versions devgraph cannot use: it gets a venv of its own,
# which the findings tests run it from.
SEMGREP := .venv-semgrep/bin/semgrep

.PHONY: run test install demo serve bench cypher-lint-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

$(NODE_LINT): tools/cypher-lint/package.json tools/cypher-lint/package-lock.json
	npm ci --prefix tools/cypher-lint --no-audit --no-fund --loglevel=error
	touch $(NODE_LINT)

cypher-lint-deps: $(NODE_LINT)

$(SEMGREP):
	$(PYTHON) -m venv .venv-semgrep
	.venv-semgrep/bin/python -m pip install --quiet 'semgrep>=1.100'

demo: $(STAMP)
	$(BIN)/python -m devgraph.demo $(DEMO)
	$(BIN)/devgraph load files $(DEMO) --no-fetch-remote
	# A year of cloud cost and the resources it runs on; resources first, so cost follows them.
	$(BIN)/python -m devgraph.demo_cloud $(DEMO)
	$(BIN)/devgraph load terraform $(DEMO)/cloud/terraform.tfstate
	$(BIN)/devgraph load kubernetes $(DEMO)/cloud/kubernetes --cluster demo-eu
	$(BIN)/devgraph load focus $(DEMO)/cloud/focus/aws-2025.csv.gz $(DEMO)/cloud/focus/azure-2025.csv
	$(BIN)/devgraph cost report --by team --svg $(DEMO)/cloud/cost-by-team.svg

serve: $(STAMP)
	$(BIN)/devgraph serve

# The demo is for trying things out: anyone on this machine may read it without a token.
run: demo
	DEVGRAPH_ALLOW_ANONYMOUS_READ=true $(BIN)/devgraph serve

test: $(STAMP) $(NODE_LINT) $(SEMGREP)
	$(BIN)/python -m pytest

# Benchmarks print figures and ratios; they are never part of `make test`.
BENCH_ARGS ?= --size 10000
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	command -v hey >/dev/null || (apt-get update -qq && apt-get install -y -qq hey)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf .devgraph
