# One image for every role, chosen by its command (docker-compose.yml):
#   node lib/app/main.js worker           worker   (default)
#   node lib/app/main.js ingress          ingress
#   node lib/app/main.js codec-server     codec server for the Temporal UI
#   node lib/app/main.js payments …      operator commands (`--help` lists them all)
# Compiled JavaScript and a prebuilt workflow bundle; no TypeScript compiler, tsx or dev
# dependencies at run time; runs as the unprivileged `node` user.

# --- build: compile, bundle the workflows, then drop dev dependencies -------------------
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY domain ./domain
COPY workflows ./workflows
COPY activities ./activities
COPY integrations ./integrations
COPY common ./common
COPY worker ./worker
COPY client ./client
COPY app ./app
COPY simulators ./simulators
COPY dev ./dev
COPY scripts ./scripts
RUN npm run build \
 && node lib/worker/bundle.js lib/workflow-bundle.js \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime -------------------------------------------------------------------------
FROM node:24.22.3-bookworm-slim
ENV NODE_ENV=production \
    WORKFLOW_BUNDLE_PATH=/app/lib/workflow-bundle.js \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/lib ./lib
COPY --from=build /app/scripts/provision.cjs /app/scripts/temporal-cli.cjs /app/scripts/temporal-server.cjs ./scripts/
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
CMD ["node", "lib/app/main.js", "worker"]
