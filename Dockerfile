# loyalty: multi-stage image. Build: `podman build -t loyalty .` (or docker build).
# Run:   podman run --rm -p 8080:8080 loyalty serve --bind 0.0.0.0:8080 --migrate --demo
# The runtime image holds the `loyalty` binary, CA certificates, and the PostgreSQL
# client tools for `loyalty backup` (pg_dump/pg_restore of major version PG_MAJOR, which
# must be at least the server's).

# The workspace needs Rust 1.94 or newer.
ARG RUST_VERSION=1.95
ARG PG_MAJOR=17

FROM docker.io/library/rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY crates ./crates
RUN cargo build --release --locked --bin loyalty \
 && strip target/release/loyalty \
 && cp target/release/loyalty /usr/local/bin/loyalty

FROM docker.io/library/debian:bookworm-slim AS runtime
ARG PG_MAJOR
# PostgreSQL's own repository, for a pg_dump as new as the server (Debian bookworm
# ships 15 only).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
 && curl -fsSL https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    | gpg --dearmor -o /usr/share/keyrings/postgresql.gpg \
 && echo "deb [signed-by=/usr/share/keyrings/postgresql.gpg] http://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
    > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
 && apt-get purge -y --auto-remove gnupg \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/loyalty --create-home --shell /usr/sbin/nologin loyalty

COPY --from=build /usr/local/bin/loyalty /usr/local/bin/loyalty

# SQLite data (./data) and backup sets (./backups) live under the working directory;
# mount a volume here to keep them.
WORKDIR /var/lib/loyalty
ENV LOYALTY_BACKUP__DIR=/var/lib/loyalty/backups
USER loyalty
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["loyalty"]
CMD ["serve", "--bind", "0.0.0.0:8080"]
