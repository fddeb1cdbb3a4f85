# loyalty: multi-stage image. Build: `podman build -t loyalty .` (or docker build).
# Run:   podman run --rm -p 8080:8080 loyalty serve --bind 0.0.0.0:8080 --migrate --demo
# The runtime image holds the `loyalty` binary, CA certificates, and the PostgreSQL
# client tools for `loyalty backup` (pg_dump/pg_restore of major version PG_MAJOR, which
# must be at least the server's).
#
# Without a registry (scripts/container-check): `--target prebuilt` takes the binary
# built on the host (`cargo build --release`, a context holding target/release/loyalty)
# instead of compiling it, on a local Debian bookworm image given as BASE_IMAGE, with
# PG_APT=debian (bookworm's own postgresql-client-15). The default target is the
# published build.

# The workspace needs Rust 1.94 or newer.
ARG RUST_VERSION=1.95
ARG PG_MAJOR=17
# The runtime's starting point: any Debian bookworm.
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim
# Where postgresql-client-${PG_MAJOR} comes from: pgdg (PostgreSQL's repository) or
# debian (bookworm ships 15 only).
ARG PG_APT=pgdg

FROM docker.io/library/rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY crates ./crates
RUN cargo build --release --locked --bin loyalty \
 && strip target/release/loyalty \
 && cp target/release/loyalty /usr/local/bin/loyalty

FROM ${BASE_IMAGE} AS runtime-base
ARG PG_MAJOR
ARG PG_APT
# PostgreSQL's own repository, for a pg_dump as new as the server (Debian bookworm
# ships 15 only).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
 && if [ "$PG_APT" = pgdg ]; then \
      curl -fsSL https://www.postgresql.org/media/keys/ACCC4CF8.asc \
        | gpg --dearmor -o /usr/share/keyrings/postgresql.gpg \
      && echo "deb [signed-by=/usr/share/keyrings/postgresql.gpg] http://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list \
      && apt-get update; \
    fi \
 && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
 && apt-get purge -y --auto-remove gnupg \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/loyalty --create-home --shell /usr/sbin/nologin loyalty

# SQLite data (./data) and backup sets (./backups) live under the working directory;
# mount a volume here to keep them.
WORKDIR /var/lib/loyalty
ENV LOYALTY_BACKUP__DIR=/var/lib/loyalty/backups
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["loyalty"]
CMD ["serve", "--bind", "0.0.0.0:8080"]

# The binary built on the host; see the top of this file.
FROM runtime-base AS prebuilt
COPY target/release/loyalty /usr/local/bin/loyalty
USER loyalty

# The published image (the default target): the binary from the build stage.
FROM runtime-base AS runtime
COPY --from=build /usr/local/bin/loyalty /usr/local/bin/loyalty
USER loyalty
