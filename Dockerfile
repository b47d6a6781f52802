# Container image for goto:
#   docker build -t goto:latest --build-arg GOTO_GIT_REV=$(git rev-parse --short=12 HEAD) .
#   docker run --rm -p 8080:8080 goto:latest        # a server on :8080
#   docker run --rm goto:latest load --json http://host:8080/
# Every server flag can come from the environment (GOTO_PORT, GOTO_LABEL,
# GOTO_REQUEST_LOGS, GOTO_LOG_FORMAT=json, ...); the HEALTHCHECK probes
# GOTO_PORT, so change the port with GOTO_PORT rather than --port.
# The engine uses io_uring where the container's seccomp profile allows it and
# falls back to epoll otherwise (Docker's and Kubernetes' default profiles
# block io_uring; `goto load` reports which driver it used).
# For Kubernetes, load the image into the cluster (`kind load docker-image
# goto:latest`, `minikube image load goto:latest`) and see deploy/k8s.

FROM rust:1.95-bookworm AS build
WORKDIR /src

# 1. Dependencies only, in their own layer: the workspace's manifests and lock
#    file with stub sources, so a source edit does not rebuild them.
COPY Cargo.toml Cargo.lock build.rs ./
COPY engine/Cargo.toml engine/
COPY control/Cargo.toml control/
RUN mkdir -p src engine/src control/src benches \
 && echo 'fn main() {}' > src/main.rs \
 && touch engine/src/lib.rs control/src/lib.rs \
 && echo 'fn main() {}' > benches/codec.rs \
 && cp benches/codec.rs benches/stats_merge.rs \
 && cargo build --release --locked -p goto \
 && rm -rf src engine/src control/src benches

# 2. The real sources. COPY keeps the files' own times, which can be older
#    than the stub build: touch them so cargo rebuilds goto's crates.
COPY . .
ARG GOTO_GIT_REV=unknown
ARG SOURCE_DATE_EPOCH
ENV GOTO_GIT_REV=${GOTO_GIT_REV}
RUN find src engine/src control/src build.rs -name '*.rs' -exec touch {} + \
 && cargo build --release --locked -p goto \
 && strip target/release/goto \
 && ./target/release/goto --version

FROM debian:bookworm-slim
ARG GOTO_GIT_REV=unknown
LABEL org.opencontainers.image.title="goto" \
      org.opencontainers.image.description="HTTP load client, chaos test server/proxy and registry in one binary" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.revision="${GOTO_GIT_REV}"
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 goto \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin goto
COPY --from=build /src/target/release/goto /usr/local/bin/goto
# Numeric, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001
ENV GOTO_PORT=8080
EXPOSE 8080
# No curl in the slim image: bash's /dev/tcp asks GET /health for a 200.
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${GOTO_PORT} && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/goto"]
