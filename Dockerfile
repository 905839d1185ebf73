# syntax=docker/dockerfile:1
# One image with every service binary and leadctl (release builds); each Deployment and the
# migration Job pick theirs with `command:` (k8s/). Build and tag: deploy/README.md.
#
#   chef     – the Rust toolchain plus cargo-chef
#   planner  – reduces the workspace to its manifests and lock file (recipe.json)
#   builder  – builds the image's packages' dependencies from the recipe alone (a layer that
#              changes only when Cargo.toml/Cargo.lock do), then those packages' binaries
#   runtime  – distroless: glibc, CA certificates and the binaries; no shell, no package
#              manager, no compiler; runs as uid 65532 (nonroot)
#
# The builder's Debian release must not be newer than the runtime's (glibc): both bookworm/12.
ARG RUST_VERSION=1.95
ARG BUILDER_IMAGE=rust:${RUST_VERSION}-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${BUILDER_IMAGE} AS chef
ARG CARGO_CHEF_VERSION=0.1.76
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
# The packages whose binaries the image holds. The cook and the build select the same packages
# and targets (`--bins ${PACKAGES}`): cargo unifies dependency features over what is selected,
# so a cook of the whole workspace (tests, platform-sim, test-support) would compile other
# feature sets than the build needs, and the build would compile its dependencies again.
ARG PACKAGES="-p auth-api -p sync-worker -p order-processor -p lead-api -p leadctl"
COPY --from=planner /src/recipe.json recipe.json
# Those packages' dependencies, release profile: reused until a manifest or the lock file
# changes. ${PACKAGES} is unquoted on purpose: one word per flag.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    cargo chef cook --release --locked --bins ${PACKAGES} --recipe-path recipe.json
COPY . .
# The migrations are embedded in the binaries (diesel's embed_migrations!), the OpenAPI document
# in auth-api: nothing but the binaries and configuration goes to the runtime image.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    cargo build --release --locked --bins ${PACKAGES} \
    && mkdir -p /out \
    && cp target/release/auth-api target/release/sync-worker target/release/order-processor \
          target/release/lead-api target/release/leadctl /out/

FROM ${RUNTIME_IMAGE} AS runtime
LABEL org.opencontainers.image.title="leadgen" \
      org.opencontainers.image.description="Order-based lead acquisition: auth-api, sync-worker, order-processor, lead-api, leadctl"
WORKDIR /app
COPY --from=builder /out/ /usr/local/bin/
# Production configuration only (local.toml holds development keys and is not copied). In the
# cluster the same files come from ConfigMaps mounted at /etc/leadgen (k8s/), overriding these.
COPY config/base.toml config/
COPY services/auth-api/config/base.toml services/auth-api/config/
COPY services/sync-worker/config/base.toml services/sync-worker/config/
COPY services/order-processor/config/base.toml services/order-processor/config/
COPY services/lead-api/config/base.toml services/lead-api/config/
COPY tools/leadctl/config/base.toml tools/leadctl/config/
# LEADGEN_ENV would default to `local`; `prod` names no file in the image, so the base files
# alone apply. A service still needs LEADGEN_CONFIG_DIR=/app/services/<name>/config and its
# secrets (LEADGEN__DATABASE__URL, …) from the environment; leadctl finds /app/config itself.
ENV LEADGEN_SHARED_CONFIG_DIR=/app/config \
    LEADGEN_ENV=prod
USER 65532:65532
EXPOSE 8081 8082 8083 8084
# No ENTRYPOINT: `docker run IMAGE auth-api` (or `command:` in Kubernetes) picks the binary.
CMD ["leadctl", "--help"]
