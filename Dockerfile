# One image for the worker and the ingress (different commands), as in docker-compose.yml.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
USER node
# The embedded dev server is not used in containers: TEMPORAL_ADDRESS points at the cluster.
CMD ["npx", "tsx", "worker/main.ts"]
