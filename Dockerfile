# syntax=docker/dockerfile:1
#
# storeplatformd for Kubernetes: the daemon and storectl, helm and kubectl for the
# Helm cluster driver, and the store chart at /opt/storeplatform/helm/store.
# helm/platform runs it.
#
#   docker build -t storeplatform/storeplatformd:0.1.0 .
#
# helm and kubectl are pinned by version and SHA-256 per architecture (build
# arguments). To move to another version pass the version and both checksums,
# taken from the project's published checksum files, e.g.
#   --build-arg HELM_VERSION=vX.Y.Z \
#   --build-arg HELM_SHA256_AMD64=<get.helm.sh/helm-vX.Y.Z-linux-amd64.tar.gz.sha256sum> \
#   --build-arg HELM_SHA256_ARM64=<...-linux-arm64.tar.gz.sha256sum>
#   --build-arg KUBECTL_VERSION=vX.Y.Z \
#   --build-arg KUBECTL_SHA256_AMD64=<dl.k8s.io/release/vX.Y.Z/bin/linux/amd64/kubectl.sha256> \
#   --build-arg KUBECTL_SHA256_ARM64=<...>
# Keep kubectl within one minor version of the clusters it talks to.

# Debian bookworm on both sides: the daemon links the system glibc and libsqlite3
# (GRDB), so the build and runtime images must share the distribution.
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------- build
FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsqlite3-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The Swift standard library and Foundation are linked statically; only glibc,
# libstdc++ and libsqlite3 remain dynamic. The generated protobuf code is
# committed, so protoc is not needed.
RUN --mount=type=cache,target=/src/.build \
    swift build -c release --static-swift-stdlib --product storeplatformd \
 && swift build -c release --static-swift-stdlib --product storectl \
 && bin="$(swift build -c release --static-swift-stdlib --show-bin-path)" \
 && install -D -m 0755 "$bin/storeplatformd" /out/storeplatformd \
 && install -D -m 0755 "$bin/storectl" /out/storectl

# ---------------------------------------------------------------- helm, kubectl
FROM ${RUNTIME_IMAGE} AS tools
ARG TARGETARCH
ARG HELM_VERSION=v3.19.0
ARG HELM_SHA256_AMD64=a7f81ce08007091b86d8bd696eb4d86b8d0f2e1b9f6c714be62f82f96a594496
ARG HELM_SHA256_ARM64=440cf7add0aee27ebc93fada965523c1dc2e0ab340d4348da2215737fc0d76ad
ARG KUBECTL_VERSION=v1.34.1
ARG KUBECTL_SHA256_AMD64=7721f265e18709862655affba5343e85e1980639395d5754473dafaadcaa69e3
ARG KUBECTL_SHA256_ARM64=420e6110e3ba7ee5a3927b5af868d18df17aae36b720529ffa4e9e945aa95450
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
RUN set -eux; \
    arch="${TARGETARCH:-amd64}"; \
    case "$arch" in \
      amd64) helm_sha256="$HELM_SHA256_AMD64"; kubectl_sha256="$KUBECTL_SHA256_AMD64" ;; \
      arm64) helm_sha256="$HELM_SHA256_ARM64"; kubectl_sha256="$KUBECTL_SHA256_ARM64" ;; \
      *) echo "no pinned helm/kubectl checksums for $arch" >&2; exit 1 ;; \
    esac; \
    curl -fsSL --retry 3 -o /tmp/helm.tar.gz "https://get.helm.sh/helm-${HELM_VERSION}-linux-${arch}.tar.gz"; \
    echo "${helm_sha256}  /tmp/helm.tar.gz" | sha256sum -c -; \
    tar -xzf /tmp/helm.tar.gz -C /tmp "linux-${arch}/helm"; \
    install -D -m 0755 "/tmp/linux-${arch}/helm" /out/helm; \
    curl -fsSL --retry 3 -o /tmp/kubectl "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${arch}/kubectl"; \
    echo "${kubectl_sha256}  /tmp/kubectl" | sha256sum -c -; \
    install -D -m 0755 /tmp/kubectl /out/kubectl; \
    /out/helm version --short; \
    /out/kubectl version --client; \
    rm -rf /tmp/helm.tar.gz "/tmp/linux-${arch}" /tmp/kubectl

# ---------------------------------------------------------------- runtime
FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libsqlite3-0 libstdc++6 tzdata \
 && rm -rf /var/lib/apt/lists/*
# A non-root user with a fixed numeric id (Kubernetes' runAsNonRoot checks the
# number; helm/platform sets the same uid and fsGroup).
ARG UID=10001
RUN groupadd --system --gid "${UID}" storeplatform \
 && useradd --system --uid "${UID}" --gid "${UID}" --home-dir /var/lib/storeplatform \
      --no-create-home --shell /usr/sbin/nologin storeplatform \
 && install -d -o "${UID}" -g "${UID}" -m 0750 /var/lib/storeplatform /run/storeplatform
COPY --from=tools /out/helm /out/kubectl /usr/local/bin/
COPY --from=build /out/storeplatformd /out/storectl /usr/local/bin/
# The chart the Helm cluster driver installs once per store (<chartDirectory>/store).
COPY helm/store /opt/storeplatform/helm/store
ENV STOREPLATFORM_DATA_DIR=/var/lib/storeplatform \
    STOREPLATFORM_SOCKET=/run/storeplatform/storeplatformd.sock \
    STOREPLATFORM_CHART_DIR=/opt/storeplatform/helm \
    HOME=/var/lib/storeplatform
USER ${UID}:${UID}
WORKDIR /var/lib/storeplatform
# 7070: RPC over TCP (pass --tcp 0.0.0.0:7070 to listen beyond the container's
# loopback); 8080: reserved for the HTTP gateway.
EXPOSE 7070 8080
ENTRYPOINT ["/usr/local/bin/storeplatformd"]
