# Gatehouse build, test and deployment targets.
#
#   make run      serve every endpoint locally with the development seed
#   make test     run the whole test suite (what CI runs, via .ci/run)
#   make build    build the five Lambda bootstrap binaries into bin/<name>/
#   make lint     gofmt check, go vet and staticcheck
#   make bench    run the benchmarks
#   make clean    remove build output
#
# `sam build` calls the build-<LogicalId> targets (BuildMethod: makefile)
# with ARTIFACTS_DIR set; they share one recipe with `make build`.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

GO ?= go
FUNCTIONS := authorize token introspect revoke metadata
BIN := bin
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK := $(CURDIR)/$(BIN)/tools/staticcheck-$(STATICCHECK_VERSION)/staticcheck

# lambda-build builds function $(1) as the provided.al2023 bootstrap $(2):
# static, arm64 (Graviton), without the RPC shim, stripped.
define lambda-build
CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(2) ./functions/$(1)
endef

.PHONY: all run test test-deps build $(FUNCTIONS:%=$(BIN)/%/bootstrap) \
	build-AuthorizeFunction build-TokenFunction build-IntrospectFunction build-RevokeFunction build-MetadataFunction \
	lint bench clean

all: lint test build

run:
	$(GO) run ./cmd/gatehouse serve --seed dev/seed.json

# test-deps prepares what the tests need beyond Go (DynamoDB Local, Chromium
# later); nothing yet.
test-deps:
	@:

test: test-deps
	$(GO) test -race -count=1 ./...

build: $(FUNCTIONS:%=$(BIN)/%/bootstrap)

$(FUNCTIONS:%=$(BIN)/%/bootstrap): $(BIN)/%/bootstrap:
	$(call lambda-build,$*,$@)

# SAM: one target per function's logical ID.
build-AuthorizeFunction:
	$(call lambda-build,authorize,$(ARTIFACTS_DIR)/bootstrap)
build-TokenFunction:
	$(call lambda-build,token,$(ARTIFACTS_DIR)/bootstrap)
build-IntrospectFunction:
	$(call lambda-build,introspect,$(ARTIFACTS_DIR)/bootstrap)
build-RevokeFunction:
	$(call lambda-build,revoke,$(ARTIFACTS_DIR)/bootstrap)
build-MetadataFunction:
	$(call lambda-build,metadata,$(ARTIFACTS_DIR)/bootstrap)

build-%Function: ARTIFACTS_DIR ?= $(error ARTIFACTS_DIR is not set: these targets are run by `sam build`)

lint: $(STATICCHECK)
	@unformatted=$$(gofmt -l $$($(GO) list -f '{{.Dir}}' ./...)); \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(dir $@) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./shared/httpapi/ ./shared/passwords/

clean:
	rm -rf $(FUNCTIONS:%=$(BIN)/%) .aws-sam
