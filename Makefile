# Everything a developer or CI runs. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
KRATOS  := bin/kratos
# Kratos v1.3.1 builds from the Go module proxy (dev/kratosbuild); cgo for SQLite.
KRATOS_SRC := dev/kratosbuild/go.mod dev/kratosbuild/go.sum dev/kratosbuild/main.go
FUZZTIME ?= 10s

.PHONY: help
help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(KRATOS): $(KRATOS_SRC)
	@echo ">> building Ory Kratos v1.3.1 from the Go module proxy into $@ (first build: a few minutes)"
	cd dev/kratosbuild && CGO_ENABLED=1 $(GO) build -tags sqlite \
		-ldflags "-X github.com/ory/kratos/driver/config.Version=v1.3.1" -o ../../$@ .
	@touch $@

.PHONY: kratos
kratos: $(KRATOS) ## Build Ory Kratos into bin/kratos (once; reused after).

.PHONY: dev
dev: $(KRATOS) ## Run the service on a local Kratos with a demo user; Ctrl-C stops both.
	./dev/scripts/dev.sh

MODULES := . dev/composecheck dev/kratosbuild

.PHONY: check
check: ## gofmt, go vet, and go mod tidy in every module.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy -diff >/dev/null) || { echo "go.mod not tidy in $$m: run (cd $$m && go mod tidy)"; exit 1; }; done
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...

.PHONY: unit
unit: ## Unit tests (fake Ory, no Kratos), with the race detector.
	$(GO) test -race -count=1 ./...

.PHONY: e2e
e2e: $(KRATOS) ## End-to-end tests against a real Kratos the tests start.
	KRATOS_BIN=$(abspath $(KRATOS)) $(GO) test -race -count=1 -tags e2e -run 'E2E' -v ./... 2>&1 | grep -Ev '^=== (RUN|PAUSE|CONT)'

.PHONY: compose
compose: ## Validate docker-compose.yml and the Dockerfile with the real loaders.
	cd dev/composecheck && $(GO) test -count=1 ./...

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 10s).
	$(GO) test -run='^$$' -fuzz='^FuzzCredentialFrom$$' -fuzztime=$(FUZZTIME) ./auth/
	$(GO) test -run='^$$' -fuzz='^FuzzOryCookies$$' -fuzztime=$(FUZZTIME) ./auth/

.PHONY: test
test: check unit compose e2e fuzz ## Everything CI runs: checks, unit, compose, end-to-end, fuzz.

.PHONY: bench
bench: $(KRATOS) ## Load-test the service and Kratos on loopback; prints one table.
	./dev/scripts/bench.sh

LOADTEST_FLAGS ?=
.PHONY: loadtest
loadtest: $(KRATOS) ## Sustained mixed traffic against Kratos (30s, 300 req/s; LOADTEST_FLAGS="-duration 1m -rate 500"); fails on a wrong answer or a leak.
	KRATOS_BIN=$(abspath $(KRATOS)) $(GO) run ./dev/cmd/loadtest $(LOADTEST_FLAGS)

.PHONY: clean
clean: ## Remove build outputs.
	rm -rf bin .dev

MUTANTS_FLAGS ?=
.PHONY: mutants
mutants: ## Break the code on purpose (dev/mutants/mutants.txt) and fail unless the tests catch each breakage (MUTANTS_FLAGS="-run cache -v").
	$(GO) run ./dev/cmd/mutants $(MUTANTS_FLAGS)
