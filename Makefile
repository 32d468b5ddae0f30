# The README's commands: `make test` runs every test, `make demo` runs the bridge's main job
# as a local trial.
GO ?= go
TAGS := goolm

.PHONY: build test unit vet

build:
	$(GO) build -tags $(TAGS) -o msnbridge .

vet:
	$(GO) vet -tags $(TAGS) ./...

unit:
	$(GO) test -tags $(TAGS) -count=1 ./...

test: vet unit
