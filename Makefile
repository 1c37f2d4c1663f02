# Everything a developer or CI runs. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
# Runtime outputs (logs, built tools, bench raw output); gitignored.
RUN     := .run
# Kratos builds from the Go module proxy (dev/kratosbuild); cgo for SQLite. Its version
# is the one dev/kratosbuild/go.mod requires, and nowhere else.
KRATOS_SRC := dev/kratosbuild/go.mod dev/kratosbuild/go.sum dev/kratosbuild/main.go
KRATOS_VERSION := $(shell awk '{ for (i = 1; i < NF; i++) if ($$i == "github.com/ory/kratos") { print $$(i + 1); exit } }' dev/kratosbuild/go.mod)
# The Kratos the programs and tests run: bin/kratos (built on demand), or your own.
KRATOS_BIN ?= $(abspath bin/kratos)
export KRATOS_BIN
FUZZTIME ?= 10s

# $(call need,COMMAND,PACKAGES): install Debian PACKAGES when COMMAND is missing, since CI
# machines start without the browser, Docker or Redis that some tests run.
need = command -v $(1) >/dev/null || { echo ">> $(1) missing: installing Debian packages $(2)"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(2) >/dev/null; }

.PHONY: help
help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(abspath bin/kratos): $(KRATOS_SRC)
	@test -n "$(KRATOS_VERSION)" || { echo "no github.com/ory/kratos requirement in dev/kratosbuild/go.mod"; exit 1; }
	@echo ">> building Ory Kratos $(KRATOS_VERSION) from the Go module proxy into bin/kratos (first build: a few minutes)"
	cd dev/kratosbuild && CGO_ENABLED=1 $(GO) build -tags sqlite \
		-ldflags "-X github.com/ory/kratos/driver/config.Version=$(KRATOS_VERSION)" -o $@ .
	@touch $@

.PHONY: kratos
kratos: $(abspath bin/kratos) ## Build Ory Kratos into bin/kratos (once; reused after).

# Programs are built, then run as make's own child (not `go run`, whose child outlives
# a stopped `go run`), so Ctrl-C or SIGTERM reaches them and they stop what they start.
.PHONY: dev
dev: $(KRATOS_BIN) ## Run the service on a local Kratos with a demo user; Ctrl-C stops both.
	$(GO) build -o $(RUN)/bin/dev ./dev/cmd/dev
	$(RUN)/bin/dev

MODULES := . dev/composecheck dev/kratosbuild dev/browsertest

.PHONY: check
check: ## gofmt, go vet, and go mod tidy in every module.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy -diff >/dev/null) || { echo "go.mod not tidy in $$m: run (cd $$m && go mod tidy)"; exit 1; }; done
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...
	$(GO) vet -tags stack ./dev/stack/

.PHONY: unit
unit: ## Unit tests (fake Ory, no Kratos; a real redis-server for the shared cache), with the race detector.
	@$(call need,redis-server,redis-server)
	$(GO) test -race -count=1 ./...

.PHONY: e2e
e2e: $(KRATOS_BIN) ## End-to-end tests against a real Kratos (and Redis) the tests start.
	@$(call need,redis-server,redis-server)
	$(GO) test -race -count=1 -tags e2e -run 'E2E' -v ./... 2>&1 | grep -Ev '^=== (RUN|PAUSE|CONT)'

.PHONY: browser
browser: $(KRATOS_BIN) ## Chromium drives the SPA example (dev/examples/spa) against Kratos and the service; installs chromium when missing.
	@$(call need,chromium,chromium)
	cd dev/browsertest && $(GO) vet ./... && $(GO) test -count=1 -timeout 20m -v ./... 2>&1 | grep -Ev '^=== (RUN|PAUSE|CONT|NAME)'

.PHONY: compose
compose: ## Validate docker-compose.yml and the Dockerfile with the real loaders.
	cd dev/composecheck && $(GO) test -count=1 ./...

.PHONY: stack
stack: $(KRATOS_BIN) ## Run docker-compose.yml for real (engine, compose and images made ready; stand-ins when no registry) and test the stack from the host.
	@$(call need,dockerd,docker.io)
	$(GO) build -o $(RUN)/bin/stack ./dev/cmd/stack
	NEED_DEBOOTSTRAP='$(call need,debootstrap,debootstrap)' $(RUN)/bin/stack -- \
		$(GO) test -count=1 -tags stack -timeout 30m -v ./dev/stack/

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 10s).
	$(GO) test -run='^$$' -fuzz='^FuzzCredentialFrom$$' -fuzztime=$(FUZZTIME) ./auth/
	$(GO) test -run='^$$' -fuzz='^FuzzOryCookies$$' -fuzztime=$(FUZZTIME) ./auth/

.PHONY: test
test: check unit compose e2e browser stack fuzz ## Everything CI runs: checks, unit, compose files, end-to-end, browser, the composed stack, fuzz.

.PHONY: bench
bench: $(KRATOS_BIN) ## Load-test the service and Kratos on loopback with wrk; one table; fails on a MISS.
	@$(call need,redis-server,redis-server)
	$(GO) build -o $(RUN)/bin/bench ./dev/cmd/bench
	$(RUN)/bin/bench

LOADTEST_FLAGS ?=
.PHONY: loadtest
loadtest: $(KRATOS_BIN) ## Sustained mixed traffic against Kratos (30s, 300 req/s; LOADTEST_FLAGS="-duration 1m -rate 500"); fails on a wrong answer or a leak.
	$(GO) build -o $(RUN)/bin/loadtest ./dev/cmd/loadtest
	$(RUN)/bin/loadtest $(LOADTEST_FLAGS)

.PHONY: clean
clean: ## Remove build outputs and runtime outputs.
	rm -rf bin $(RUN)

MUTANTS_FLAGS ?=
.PHONY: mutants
mutants: ## Break the code on purpose (dev/mutants/mutants.txt) and fail unless the tests catch each breakage (MUTANTS_FLAGS="-run cache -v").
	$(GO) run ./dev/cmd/mutants $(MUTANTS_FLAGS)
