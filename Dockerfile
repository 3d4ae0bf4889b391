# syntax=docker/dockerfile:1.7
# One image replaces the Python service's three (uvicorn, nginx+mkcert, granian+mkcert): the
# static binary terminates TLS itself.
#
# Built from the release binaries, not compiled here, so the binary in the image is byte for byte
# the one listed in dist/SHA256SUMS:
#   make release        # dist/proxbox-linux-amd64, dist/proxbox-linux-arm64, SBOMs, SHA256SUMS
#   make docker         # docker buildx build --platform linux/amd64,linux/arm64 ...
# TARGETARCH is set by BuildKit for each platform.
#
# Base: distroless static (no shell, no libc, no package manager; CA roots, tzdata and an
# /etc/passwd with nonroot = 65532), pinned by digest so a rebuild gets the same base.
# Refresh the pin with: crane digest gcr.io/distroless/static-debian12:nonroot
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab

ARG TARGETARCH
ARG VERSION=v0.0.0-dev
ARG COMMIT=unknown
ARG CREATED=1970-01-01T00:00:00Z

LABEL org.opencontainers.image.title="proxbox" \
      org.opencontainers.image.description="Proxmox VE to NetBox sync appliance; backend of the netbox-proxbox plugin" \
      org.opencontainers.image.url="https://github.com/proxbox/proxbox" \
      org.opencontainers.image.source="https://github.com/proxbox/proxbox" \
      org.opencontainers.image.documentation="https://github.com/proxbox/proxbox#readme" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot" \
      org.opencontainers.image.base.digest="sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab"

COPY --chmod=0755 dist/proxbox-linux-${TARGETARCH} /usr/local/bin/proxbox
# The data directory belongs to the appliance's user (a new named volume starts as a copy of it).
COPY --chown=65532:65532 --chmod=0700 deploy/container/data/ /var/lib/proxbox/

ENV PROXBOX_DATA_DIR=/var/lib/proxbox \
    PORT=8000 \
    PROXBOX_TLS=local
VOLUME ["/var/lib/proxbox"]
EXPOSE 8000
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=6s --start-period=10s --retries=3 CMD ["/usr/local/bin/proxbox", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/proxbox"]
CMD ["serve"]
