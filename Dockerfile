# syntax=docker/dockerfile:1
# One image for the API (default) and the workers (`node --max-old-space-size=256 dist/workers/worker.js`).

# ---- build: install everything, compile, then drop the dev dependencies
FROM node:20-bookworm-slim AS build
WORKDIR /app
ENV CI=true NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN npm ci
# .dockerignore keeps out node_modules, dist, tests, .local, .env files and tools
COPY . .
RUN npm run build \
 && test -f dist/src/main.js \
 && test -f dist/workers/worker.js \
 && npm prune --omit=dev \
 && npm cache clean --force

# ---- runtime: compiled code and production dependencies only, as the unprivileged `node` user
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=3000 NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=6 \
  CMD ["node", "-e", "require('http').get({ host: '127.0.0.1', port: process.env.PORT || 3000, path: '/health/ready', timeout: 2500 }, (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('timeout', function () { this.destroy(); }).on('error', () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
