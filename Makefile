# gocua — common tasks. `make test` is what CI runs (.ci/run): it sets up what
# the tests need (.ci/testenv) and runs `make check`.
GO ?= go

# The Go release gocua is built and tested with; keep it equal to go.mod's
# toolchain line. A go command from Go 1.21 on downloads it from the module
# proxy the first time (about 76 MB) and then uses it. (.ci/testenv checks
# that the two agree.)
export GOTOOLCHAIN ?= go1.27.3

# Pinned tools; docs/security.md says how to refresh them. They are fetched
# from the module proxy at these versions and kept out of go.mod and go.sum.
STATICCHECK_VERSION ?= v0.8.2
GOVULNCHECK_VERSION ?= v1.9.0
# golang.org/x/vulndb carries the vulnerability database make vuln scans with.
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018

# How long make fuzz-short runs each fuzz target.
FUZZTIME ?= 5s

.PHONY: run build vet lint vuln race fuzz-short check test bench check-flows
run:
	$(GO) run ./cmd/gocua

build:
	$(GO) build -o bin/gocua ./cmd/gocua

# .ci/probe.go (used by .ci/testenv) is outside ./..., so it is named too.
vet:
	$(GO) vet ./...
	$(GO) vet .ci/probe.go

# staticcheck, built by the same Go release that builds gocua.
lint:
	GOTOOLCHAIN="$$($(GO) env GOVERSION)" $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	GOTOOLCHAIN="$$($(GO) env GOVERSION)" $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) .ci/probe.go

# govulncheck on an offline copy of the Go vulnerability database; fails when
# gocua's code reaches a known vulnerability.
vuln:
	GO="$(GO)" GOVULNCHECK_VERSION=$(GOVULNCHECK_VERSION) VULNDB_VERSION=$(VULNDB_VERSION) .ci/vuln

# Every package with the race detector. Storage tests use the PostgreSQL and
# Redis named by GOCUA_TEST_DATABASE_URL / GOCUA_TEST_REDIS_URL (default:
# postgres://postgres@127.0.0.1:5432/test and redis://127.0.0.1:6379).
race:
	$(GO) test -race -count=1 -timeout 20m ./...

# Every fuzz target (found by go test -list) for FUZZTIME each.
fuzz-short:
	GO="$(GO)" FUZZTIME=$(FUZZTIME) .ci/fuzz-short

# The full check, on servers that are already there.
check: vet lint vuln race fuzz-short

# The full check on any machine: starts or installs what the tests need first,
# stops what it started afterwards.
test:
	.ci/testenv $(MAKE) check

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

check-flows:
	$(GO) run ./cmd/gocua flows check
