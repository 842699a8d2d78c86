# Roundtable: built the same way as `npm start` does it, the mediasoup worker compiled against
# Debian's libraries (no downloads during the build besides the npm and Debian registries).
FROM node:20-bookworm-slim AS build
# meson >= 1.1 comes from backports, on the same mirror the image already uses.
RUN . /etc/os-release \
 && mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources | grep -v security | head -1 | awk '{print $2}') \
 && printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" "$VERSION_CODENAME" > /etc/apt/sources.list.d/backports.sources \
 && apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev libuv1-dev libsrtp2-dev libusrsctp-dev libabsl-dev \
      nlohmann-json3-dev pkg-config ninja-build g++ python3 \
 && apt-get install -y --no-install-recommends -t "$VERSION_CODENAME-backports" meson \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts ./scripts
RUN ROUNDTABLE_CACHE_DIR=/tmp/roundtable-cache bash scripts/build-mediasoup-worker.sh \
 && bin=node_modules/mediasoup/worker/out/Release/mediasoup-worker \
 && cp --remove-destination "$(readlink -f "$bin")" "$bin"
COPY . .
RUN npx vite build --config client/vite.config.ts && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 libuv1 libsrtp2-1 libusrsctp2 libabsl20220623 tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/client/dist ./client/dist
COPY --chown=node:node package.json ./
COPY --chown=node:node sfu ./sfu
COPY --chown=node:node shared ./shared
COPY --chown=node:node config ./config
USER node
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 ROUNDTABLE_RTC_LISTEN_IP=0.0.0.0
EXPOSE 3000/tcp 40000-49999/udp 40000-49999/tcp
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "sfu/src/main.ts"]
