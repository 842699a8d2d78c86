# Roundtable, built like `npm start` builds it: the mediasoup worker compiled from source against
# Debian 12's libraries, with no downloads besides the npm registry and the Debian archive.
#
# BASE is any Debian 12 (bookworm) image with Node.js >= 20.19 and npm on PATH. The default is made
# locally, without an image registry, by scripts/container/build-base-image.sh (debootstrap + Node.js).
# With registry access, `--build-arg BASE=docker.io/library/node:20-bookworm-slim` works as well.
# Build with podman (keep --format docker, or OCI drops the HEALTHCHECK):
#   podman build --format docker -t roundtable .
# See docs/container.md.
ARG BASE=localhost/roundtable-base:bookworm

FROM ${BASE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
 || { echo "BASE must provide Node.js >= 20.19, found $(node --version)" >&2; exit 1; }
WORKDIR /app
# Build packages, meson from bookworm-backports and a deb-src entry (libsrtp2's source package is
# compiled with OpenSSL into the worker), on the image's own mirror: the list and the logic that
# scripts/install.sh uses. The apt lists stay in this stage: the worker build reads them to fetch
# that source package (`apt-get source`). The runtime stage starts afresh.
COPY scripts/lib ./scripts/lib
RUN source scripts/lib/common.sh && source scripts/lib/system-packages.sh \
 && ensure_system_packages --with-build
COPY package.json package-lock.json ./
# Install scripts stay off, as in install.sh. The optional build secret `extra_ca` (a PEM bundle) is
# for networks whose proxy re-signs TLS to the npm registry; it is not kept in any layer.
RUN --mount=type=secret,id=extra_ca \
    if [ -s /run/secrets/extra_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca; fi \
 && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
# The native parts, built from source as `npm start` builds them: the mediasoup worker (with the
# shims and patches in scripts/mediasoup-worker/, libsrtp from Debian's source package built with
# OpenSSL and linked in statically, io_uring through Debian's liburing when the build host's kernel
# is 6.x or later) and better-sqlite3's addon (node-gyp, against the base's Node.js headers). As with
# `npm start`, both are cached outside the tree, keyed by version (and shim content, or Node ABI),
# here in a build cache mount, so that a change to package.json does not cost another compile. The
# worker and its build-info.json (read by the server's startup log) are copied out of the cache into
# the place where mediasoup looks for it. ldd and dpkg -S then list the Debian packages the two
# link against, for the runtime stage.
COPY scripts/build-mediasoup-worker.sh scripts/build-better-sqlite3.sh ./scripts/
COPY scripts/mediasoup-worker ./scripts/mediasoup-worker
RUN --mount=type=cache,id=roundtable-bookworm,target=/var/cache/roundtable \
    export ROUNDTABLE_CACHE_DIR=/var/cache/roundtable \
 && cached=$(bash scripts/build-mediasoup-worker.sh) \
 && bin=node_modules/mediasoup/worker/out/Release/mediasoup-worker \
 && cp --remove-destination "$cached" "$bin" \
 && cp "$(dirname "$cached")/build-info.json" "$(dirname "$bin")/" \
 && bash scripts/build-better-sqlite3.sh \
 && for lib in $(ldd "$bin" node_modules/better-sqlite3/build/Release/better_sqlite3.node | awk '/=> \//{ print $3 }'); do \
      dpkg -S "$lib" 2>/dev/null || dpkg -S "$(realpath "$lib")" 2>/dev/null || echo "unowned: $lib" >&2; \
    done | cut -d: -f1 | sort -u > /app/native-runtime-packages \
 && test -s /app/native-runtime-packages \
 && echo "native code links against: $(tr '\n' ' ' < /app/native-runtime-packages)"
COPY . .
RUN npx vite build --config client/vite.config.ts --logLevel warn \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
 && rm -rf node_modules/.cache node_modules/.vite node_modules/.vite-temp \
      node_modules/mediasoup/worker/{src,include,subprojects,fuzzer,test,scripts,deps} client/dist/.roundtable-build

FROM ${BASE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The Debian runtime libraries the native code links against (read with ldd in the build stage), and
# tini as PID 1, so that signals reach node and the worker processes are reaped; ffmpeg records and
# renders composites (DejaVu draws the names). The room store (SQLite) and the recordings live in a
# volume owned by the unprivileged user.
COPY --from=build /app/native-runtime-packages /tmp/
RUN apt-get update \
 && xargs -a /tmp/native-runtime-packages apt-get install -y --no-install-recommends tini ffmpeg fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/native-runtime-packages \
 && (id -u node >/dev/null 2>&1 || { groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home --shell /bin/bash node; }) \
 && install -d -o node -g node -m 0750 /var/lib/roundtable
WORKDIR /app
# The application stays owned by root: the server only reads it.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/client/dist ./client/dist
COPY package.json ./
COPY sfu ./sfu
COPY shared ./shared
COPY config ./config
COPY scripts/container/healthcheck.mjs ./scripts/container/
RUN ldd node_modules/mediasoup/worker/out/Release/mediasoup-worker node_modules/better-sqlite3/build/Release/better_sqlite3.node \
    | { ! grep 'not found'; }
USER node
# HTTP on every interface of the container. Media: one UDP and one TCP port per mediasoup worker,
# worker i on ROUNDTABLE_RTC_BASE_PORT + i (40000 up). Set ROUNDTABLE_ANNOUNCED_IP to the address
# browsers reach; without it the server announces the first non-internal IPv4 address it sees.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    ROUNDTABLE_RTC_LISTEN_IP=0.0.0.0 \
    ROUNDTABLE_DATA_DIR=/var/lib/roundtable \
    MEDIASOUP_WORKER_BIN=/app/node_modules/mediasoup/worker/out/Release/mediasoup-worker
VOLUME ["/var/lib/roundtable"]
# 3000: HTTP and signaling. 40000-40003: media for up to 4 workers (one port per worker, UDP and
# TCP). With more workers (ROUNDTABLE_WORKERS, default one per CPU core) publish more ports.
EXPOSE 3000/tcp 40000-40003/udp 40000-40003/tcp
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "scripts/container/healthcheck.mjs"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "sfu/src/main.ts"]
