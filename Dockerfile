# Multi-stage build: plugins (wasm32-wasip2 components) and the host in a
# Rust image, then a slim runtime image with the binary and the default
# plugin set.
FROM rust:1.95-bookworm AS build
RUN rustup target add wasm32-wasip2
WORKDIR /src
COPY . .
ENV SQLX_OFFLINE=true
RUN scripts/build-plugins \
 && cargo build --release --locked --bin sigil

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent sigil
COPY --from=build /src/target/release/sigil /usr/local/bin/sigil
COPY --from=build /src/target/plugins/default /opt/sigil/plugins
USER sigil
ENV SIGIL_LISTEN=0.0.0.0:8080 \
    SIGIL_PLUGIN_DIR=/opt/sigil/plugins
EXPOSE 8080
CMD ["sigil", "serve"]
