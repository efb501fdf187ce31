# bulkleave: one image for every subcommand (`worker`, `api`, `migrate`, `enqueue`, ...).
#
#   docker build -t bulkleave .
#   docker run --rm bulkleave --help
#
# Stages: cargo-chef plans the dependency graph (`planner`), builds the dependencies alone
# (`builder`, a layer cached until Cargo.toml or Cargo.lock change), then the crate. The build
# command is the one CI runs (`.ci/run`, "release build"): `cargo build --release --locked
# --bin bulkleave`. The runtime is distroless `cc` (glibc, libgcc, CA certificates for the
# providers' TLS through rustls and the system roots), no shell, no package manager, running
# as the numeric non-root user 65532. Nothing secret and no configuration is baked in: mount
# the configuration (`BULKLEAVE_CONFIG`) and pass credentials at run time (see README,
# "Kubernetes").

ARG RUST_VERSION=1.95.0
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS chef
ARG CARGO_CHEF_VERSION=0.1.78
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}" \
    && rm -rf "${CARGO_HOME}/registry"
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --bin bulkleave --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin bulkleave \
    && install -D -m 0755 target/release/bulkleave /out/bulkleave

# debian12 = bookworm: the same glibc the builder linked against.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="bulkleave" \
      org.opencontainers.image.description="Makes accounts leave messaging groups in bulk" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/bulkleave /usr/local/bin/bulkleave
USER 65532:65532
# 8080: `bulkleave api` (api.listen); 9091: a worker's /metrics, /healthz, /readyz (metrics.listen).
EXPOSE 8080 9091
ENTRYPOINT ["/usr/local/bin/bulkleave"]
CMD ["--help"]
