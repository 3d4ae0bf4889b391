# One image replaces the Python service's three (uvicorn, nginx+mkcert,
# granian+mkcert): the static binary terminates TLS itself.
FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/proxbox ./cmd/proxbox \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/proxbox /usr/local/bin/proxbox
COPY --from=build --chown=nonroot:nonroot /out/data /var/lib/proxbox
ENV PROXBOX_DATA_DIR=/var/lib/proxbox \
    PORT=8000 \
    PROXBOX_TLS=local
VOLUME ["/var/lib/proxbox"]
EXPOSE 8000
USER nonroot:nonroot
HEALTHCHECK --interval=30s --timeout=6s --start-period=10s --retries=3 CMD ["/usr/local/bin/proxbox", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/proxbox"]
CMD ["serve"]
