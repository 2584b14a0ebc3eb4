# agentvdc — run `make help` for the targets.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
STRIPE_MOCK_VERSION := v0.203.0
export GONOSUMDB := github.com/OpenNebula
# Tests find the MinIO server here (agents/minio tests start it on 127.0.0.1).
export VDC_MINIO_BIN := $(BIN)/minio
export VDC_STRIPE_MOCK_BIN := $(BIN)/stripe-mock

.PHONY: help build man deb image run test test-short bench soak lint fuzz prereqs clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/vdc
	$(GO) build -o $(BIN)/vdc ./cmd/vdc

man: ## write the man pages (one per command) into man/
	$(GO) run ./cmd/genman -dir $(CURDIR)/man

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0)
DIST    := $(CURDIR)/dist

deb: man ## build dist/vdc_VERSION_{amd64,arm64}.deb and dist/SHA256SUMS (nFPM, packaging/)
	@set -e; for arch in amd64 arm64; do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -buildvcs=auto -ldflags "-s -w -X github.com/agentvdc/agentvdc/cmd/vdc/cli.Version=$(VERSION)" -o $(DIST)/linux-$$arch/vdc ./cmd/vdc; \
		(cd packaging && $(GO) run . -bin $(DIST)/linux-$$arch/vdc -version $(VERSION) -arch $$arch -out $(DIST) -man $(CURDIR)/man -root $(CURDIR)); \
	done

image: ## build dist/vdc_VERSION_{amd64,arm64}.image.tar (docker/podman load -i): the static binary on an empty base, non-root
	@set -e; for arch in amd64 arm64; do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -buildvcs=auto -ldflags "-s -w -X github.com/agentvdc/agentvdc/cmd/vdc/cli.Version=$(VERSION)" -o $(DIST)/linux-$$arch/vdc ./cmd/vdc; \
		(cd packaging && $(GO) run . -image -bin $(DIST)/linux-$$arch/vdc -version $(VERSION) -arch $$arch -out $(DIST) -revision "$$(git rev-parse HEAD 2>/dev/null)"); \
	done

run: build ## validate customers/, then run the daemon on this checkout with the simulators (Ctrl-C stops)
	$(BIN)/vdc validate --repo . --path customers
	$(BIN)/vdc serve --sim --repo . --ref HEAD --data .vdc --listen 127.0.0.1:8787

prereqs: $(BIN)/minio $(BIN)/stripe-mock ## install what the tests need (MinIO server, stripe-mock; git, Chromium, curl, jq, promtool, pdftotext and the bootstrap validators from Debian)
	@missing=""; for t in git curl jq shellcheck; do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	command -v cloud-init >/dev/null || missing="$$missing cloud-init"; \
	command -v wg-quick >/dev/null || missing="$$missing wireguard-tools"; \
	command -v nft >/dev/null || test -x /usr/sbin/nft || missing="$$missing nftables"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	if [ -n "$$missing" ]; then echo "installing$$missing with apt"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

$(BIN)/stripe-mock:
	GOBIN=$(BIN) $(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)

$(BIN)/minio:
	@echo "building MinIO $(MINIO_VERSION) into bin/ (several minutes on a cold cache)"
	GOBIN=$(BIN) $(GO) install github.com/minio/minio@$(MINIO_VERSION)

test: prereqs lint ## everything CI runs: lint, then all tests with -race
	$(GO) test -race -count=1 -timeout 40m ./...

test-short: ## quick tests without -race
	$(GO) test -short -count=1 ./...

bench: ## run the benchmarks (figures go in issue notes)
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

fuzz: ## fuzz the customer loader for 60s; webhook payloads, plan requests, the state file opener, upload names and extraction for 30s each
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 60s ./schema
	$(GO) test -run '^$$' -fuzz FuzzWebhookPayload -fuzztime 30s ./reconciler/daemon/webhook
	$(GO) test -run '^$$' -fuzz FuzzPlanRequest -fuzztime 30s ./reconciler/api
	$(GO) test -run '^$$' -fuzz FuzzOpenStateFile -fuzztime 30s ./state
	$(GO) test -run '^$$' -fuzz FuzzUploadName -fuzztime 30s ./agents
	$(GO) test -run '^$$' -fuzz FuzzExtract -fuzztime 30s ./agents/extract

soak: prereqs ## 30 minutes of mixed API, webhook and hostile-file traffic against vdc serve --sim (SOAK=30m)
	VDC_SOAK=$(or $(SOAK),30m) $(GO) test -run '^TestSoak$$' -count=1 -v -timeout 60m ./cmd/vdc

lint: ## gofmt + go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean: ## remove build outputs (keeps the cached MinIO binary)
	rm -f $(BIN)/vdc
	rm -rf $(CURDIR)/man $(DIST)
