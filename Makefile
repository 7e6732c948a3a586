# Quick start: `make run` (demo estate + GraphQL at http://127.0.0.1:8000/graphql), `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := .devgraph/demo-estate
FINDINGS := .devgraph/demo-findings
NODE_LINT := tools/cypher-lint/node_modules/.package-lock.json
# Apollo composition and gateway, for the subgraph tests.
NODE_FEDERATION := tools/federation/node_modules/.package-lock.json
# Semgrep pins rich, click and pydantic versions devgraph cannot use: it gets a venv of its own,
# which the findings tests run it from.
SEMGREP := .venv-semgrep/bin/semgrep

.PHONY: run test install demo serve bench cypher-lint-deps federation-deps clean

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

$(NODE_FEDERATION): tools/federation/package.json tools/federation/package-lock.json
	npm ci --prefix tools/federation --no-audit --no-fund --loglevel=error
	touch $(NODE_FEDERATION)

federation-deps: $(NODE_FEDERATION)

$(SEMGREP):
	$(PYTHON) -m venv .venv-semgrep
	.venv-semgrep/bin/python -m pip install --quiet 'semgrep>=1.100'

demo: $(STAMP)
	$(BIN)/python -m devgraph.demo $(DEMO)
	$(BIN)/devgraph load files $(DEMO) --no-fetch-remote
	$(BIN)/python -m devgraph.demo_findings $(DEMO) $(FINDINGS)
	$(BIN)/devgraph load sarif $(FINDINGS)/sarif/*.json --json > /dev/null
	DEVGRAPH_LICENSES__DENIED='["GPL-3.0-only"]' DEVGRAPH_LICENSES__REVIEW='["LGPL-2.1-only"]' \
		$(BIN)/devgraph load cyclonedx $(FINDINGS)/sbom/*.json --json > /dev/null
	$(BIN)/devgraph load osv $(FINDINGS)/osv
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
	@echo "findings are for owning teams and security: header Authorization: Bearer $$($(BIN)/devgraph token create --name demo-security --role security 2>/dev/null)"
	DEVGRAPH_ALLOW_ANONYMOUS_READ=true $(BIN)/devgraph serve

test: $(STAMP) $(NODE_LINT) $(NODE_FEDERATION) $(SEMGREP)
	$(BIN)/python -m pytest

# Benchmarks print figures and ratios; they are never part of `make test`.
BENCH_ARGS ?= --size 10000
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	command -v hey >/dev/null || (apt-get update -qq && apt-get install -y -qq hey)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf .devgraph
