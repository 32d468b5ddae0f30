# Multi-stage build of the MSN ⇄ Matrix bridge.
# Stage 1 compiles with cgo (SQLite through github.com/mattn/go-sqlite3) and the goolm tag
# (pure-Go Olm, no libolm headers needed).
FROM golang:1.26-bookworm AS builder
WORKDIR /build
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Version stamping (`msnbridge version`, the startup log): `make docker` passes these; a plain
# `docker build` leaves them "unknown" (.dockerignore keeps .git out of the build context).
ARG COMMIT=unknown
ARG TAG=
ARG BUILD_TIME=unknown
RUN CGO_ENABLED=1 go build -tags goolm -trimpath \
    -ldflags "-s -w -X main.Tag=${TAG} -X main.Commit=${COMMIT} -X main.BuildTime=${BUILD_TIME}" \
    -o /usr/bin/msnbridge .

# Stage 2 is a small Debian runtime: the binary needs glibc (cgo) and CA certificates.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates gosu \
 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /usr/bin/msnbridge /usr/bin/msnbridge
COPY docker-run.sh /docker-run.sh
ENV UID=1337 GID=1337
VOLUME /data
WORKDIR /data
ENTRYPOINT ["/docker-run.sh"]
