# The README's commands: `make test` runs every test (vet, unit tests, end-to-end tests against a
# real Synapse), `make demo` runs the bridge's main job as a local trial.
GO ?= go
TAGS := goolm
BIN := .e2e/bin

# Version stamping: `msnbridge version` (and `--version`, the bot's `version` command, the
# startup log) say which commit is running and when it was built. Empty outside a git checkout.
GIT_COMMIT := $(shell git rev-parse HEAD 2>/dev/null)
GIT_TAG := $(shell git describe --exact-match --tags 2>/dev/null)
BUILD_TIME := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X main.Tag=$(GIT_TAG) -X main.Commit=$(GIT_COMMIT) -X main.BuildTime=$(BUILD_TIME)

.PHONY: build test unit vet e2e e2e-postgres e2e-postgres-tests e2e-env demo demo-bins demo-check version-check docker

build:
	$(GO) build -tags $(TAGS) -ldflags '$(LDFLAGS)' -o msnbridge .

# version-check: a `make build` binary must print the commit it was built from.
version-check: build
	scripts/check-version.sh ./msnbridge $(GIT_COMMIT)

docker:
	docker build --build-arg COMMIT=$(GIT_COMMIT) --build-arg TAG=$(GIT_TAG) \
		--build-arg BUILD_TIME=$(BUILD_TIME) -t msnbridge .

vet:
	$(GO) vet -tags $(TAGS) ./...
	$(GO) vet -tags '$(TAGS) e2e' ./e2e/...

# -timeout: a hung test fails its package after 3 minutes with every goroutine's stack, instead
# of holding CI for go test's default 10 minutes (every package needs well under 1 minute).
unit:
	$(GO) test -tags $(TAGS) -count=1 -timeout 3m ./...

# e2e-env installs the cached Synapse chroot (first time: a few minutes; then instant).
e2e-env:
	scripts/synapse-env.sh install

e2e: e2e-env
	$(GO) test -tags '$(TAGS) e2e' -count=1 -timeout 20m -v ./e2e/...

# e2e-postgres: the bridge's database on PostgreSQL. scripts/postgres-env.sh installs Debian's
# postgresql if missing, starts a throwaway cluster on a Unix socket in a temporary directory,
# passes its URI in MSNBRIDGE_E2E_POSTGRES and MSNBRIDGE_TEST_POSTGRES, runs e2e-postgres-tests,
# checks the bridge wrote there, and stops and removes the cluster (about 2 minutes in all).
e2e-postgres: e2e-env
	scripts/postgres-env.sh run $(MAKE) --no-print-directory e2e-postgres-tests

# e2e-postgres-tests: the store's unit tests, then the journey (only TestJourney, about 1 minute),
# on the databases named by those variables (SQLite without them).
e2e-postgres-tests:
	$(GO) test -tags $(TAGS) -count=1 -timeout 3m ./database/
	$(GO) test -tags '$(TAGS) e2e' -count=1 -timeout 8m -v -run 'TestJourney$$' ./e2e/...

test: vet unit version-check e2e e2e-postgres demo-check

demo-bins:
	$(GO) build -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $(BIN)/msnbridge .
	$(GO) build -tags $(TAGS) -o $(BIN)/msn-fakeserver ./cmd/msn-fakeserver
	$(GO) build -o $(BIN)/yamlset ./e2e/yamlset

demo: demo-bins
	scripts/demo.sh

# demo-check: `make demo` started in the background from a script stops everything it started
# within 5 s of SIGINT (to its process group) and of SIGTERM (to make).
demo-check: e2e-env
	scripts/demo-stop-check.sh

# bench: the scale figures of docs/PERFORMANCE.md. Go benchmarks of the codec and the presence
# scheduler (short -benchtime: the machine is shared), then the load tool at BENCH_SESSIONS idle
# MSNP18 sessions against the fake server in a separate process, then 20,000 switchboard
# messages between them (loopback only).
BENCH_SESSIONS ?= 1000
.PHONY: bench bench-bridge

bench:
	$(GO) test -tags $(TAGS) -run '^$$' -bench 'DecodeCommand|EncodeCommand' -benchtime 200000x -count 2 ./msn/wire/
	$(GO) test -tags $(TAGS) -run '^$$' -bench 'PresenceChange' -benchtime 300000x -count 2 ./puppet/
	$(GO) test -tags $(TAGS) -count=1 -run 'TestPusherKeeps10000GhostsWithinRefresh' -v ./puppet/
	$(GO) build -tags $(TAGS) -o $(BIN)/msn-loadtest ./cmd/msn-loadtest
	$(BIN)/msn-loadtest -sessions $(BENCH_SESSIONS) -contacts 50 -version 18 -messages 20000
	@if [ -d "$${MSNBRIDGE_E2E_CACHE:-/var/cache/msnbridge-e2e}/chroot/usr" ]; then \
		$(MAKE) --no-print-directory bench-bridge; \
	else echo "bench: no Synapse chroot (make e2e-env): bench-bridge skipped"; fi

# bench-bridge: the figures through the bridge with a real Synapse (docs/PERFORMANCE.md, "Through
# the bridge"): bridge RSS per login, bridge CPU per bridged message, and p50/p99 delivery latency
# MSN→Matrix and Matrix→MSN beside the two direct hops, in one run (e2e/load_test.go). Sizes:
# MSNBRIDGE_LOAD_LOGINS (20), _CONTACTS (5), _MESSAGES (200), _BURST (200); _JSON=file for JSON.
# A measurement, not a test: not part of `make test`.
bench-bridge: e2e-env
	MSNBRIDGE_LOAD=1 $(GO) test -tags '$(TAGS) e2e' -count=1 -timeout 30m -v -run 'TestBridgeLoad$$' ./e2e/...
