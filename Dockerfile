# Container image for goto: `docker build -t goto .` then
# `docker run --rm -p 8080:8080 goto` (a server on :8080 with its defaults).
# The engine uses io_uring where the container's seccomp profile allows it and
# falls back to epoll otherwise (`goto load` reports which driver it used).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p goto \
 && strip target/release/goto

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/goto /usr/local/bin/goto
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/goto"]
CMD ["--port", "8080"]
