# gocua — common tasks. `make test` is what CI runs.
GO ?= go

# The Go release gocua is built and tested with; keep it equal to go.mod's
# toolchain line. A go command from Go 1.21 on downloads it from the module
# proxy the first time (about 76 MB) and then uses it.
export GOTOOLCHAIN ?= go1.27.3

.PHONY: run test vet build bench check-flows
run:
	$(GO) run ./cmd/gocua

build:
	$(GO) build -o bin/gocua ./cmd/gocua

vet:
	$(GO) vet ./...

# The full suite: vet, then every package with the race detector. Storage tests
# use the PostgreSQL and Redis named by GOCUA_TEST_DATABASE_URL / GOCUA_TEST_REDIS_URL
# (default: postgres://postgres@127.0.0.1:5432/test and redis://127.0.0.1:6379).
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

check-flows:
	$(GO) run ./cmd/gocua flows check
