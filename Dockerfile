# A Loghouse node in a container. The build stage compiles the addon and packs the package exactly
# as `npm pack` does for test/package-install.test.ts (JavaScript in dist/, declarations, the
# prebuilt linux-x64 addon); the runtime stage installs that tarball into an empty project, as the
# test does, with no compiler and no dev dependencies. Runs as an unprivileged user; the log lives on
# a volume; the health check asks the node's gRPC health service.
#
#   docker build -t loghouse:0.1.0 .
#   docker run -p 8400:8400 -v loghouse-data:/var/lib/loghouse loghouse:0.1.0

FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY binding.gyp buf.yaml buf.gen.yaml tsconfig.json tsconfig.build.json README.md ./
COPY bin/ bin/
COPY native/ native/
COPY proto/ proto/
COPY scripts/ scripts/
COPY src/ src/
# npm ci compiles the addon (node-gyp, headers from the image's /usr/local) and generates the protobuf code.
RUN npm ci --nodedir=/usr/local --no-audit --no-fund && npm pack --nodedir=/usr/local --pack-destination /tmp && mv /tmp/loghouse-*.tgz /tmp/loghouse.tgz

FROM node:20-bookworm-slim AS runtime
RUN groupadd --gid 10001 loghouse && useradd --uid 10001 --gid loghouse --no-create-home --shell /usr/sbin/nologin loghouse \
  && mkdir -p /opt/loghouse /var/lib/loghouse && chown loghouse:loghouse /var/lib/loghouse
WORKDIR /opt/loghouse
COPY --from=build /tmp/loghouse.tgz /tmp/loghouse.tgz
RUN echo '{"name":"loghouse-runtime","private":true}' > package.json \
  && npm install --omit=dev --no-audit --no-fund /tmp/loghouse.tgz && rm /tmp/loghouse.tgz && npm cache clean --force
# Plaintext on the container's network must be asked for (a node serves plaintext on loopback only):
# for TLS, mount certificates and set LOGHOUSE_TLS_CERT, LOGHOUSE_TLS_KEY, LOGHOUSE_TLS_CA instead.
ENV PATH=/opt/loghouse/node_modules/.bin:$PATH \
    LOGHOUSE_DATA_DIR=/var/lib/loghouse \
    LOGHOUSE_LISTEN=0.0.0.0:8400 \
    LOGHOUSE_INSECURE=true
USER 10001:10001
VOLUME ["/var/lib/loghouse"]
EXPOSE 8400
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["loghouse", "status", "--server", "127.0.0.1:8400", "--timeout", "3s"]
ENTRYPOINT ["loghouse"]
CMD ["serve"]
