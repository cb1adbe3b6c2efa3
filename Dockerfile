# The gateway, built in release mode and run as an unprivileged user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p api --bin gateway

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/gateway --create-home gateway
COPY --from=build /src/target/release/gateway /usr/local/bin/gateway
USER gateway
WORKDIR /var/lib/gateway
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
ENTRYPOINT ["gateway"]
CMD ["serve"]
