# Multi-stage build of the Gin service: a static binary on a distroless, non-root base.
#
#   docker build -t ory-gin-starter .
#   docker run --rm -p 8080:8080 --env-file .env ory-gin-starter
#
# Needs BuildKit (the default builder since Docker 23) for the build-cache mount.

# Build on the builder's own platform and cross-compile for the target (fast multi-arch builds).
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
ARG TARGETOS
ARG TARGETARCH
# grpcnotrace: the OTLP exporter links gRPC, whose request tracing would keep the linker from
# dropping unused code anywhere in the binary (docs/tracing.md).
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -tags grpcnotrace -ldflags "-s -w" -o /out/app .

# Static base: CA certificates and /etc/passwd with nonroot (65532), no shell or package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/app /app
USER nonroot:nonroot
ENV PORT=8080
EXPOSE 8080
# No shell, curl or wget here: the binary probes its own GET /healthz (exit 0 or 1).
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=3 CMD ["/app", "healthcheck"]
ENTRYPOINT ["/app"]
