# syntax=docker/dockerfile:1
# One image for the API (default command), the workers and the migration Job:
#   API       node dist/src/main.js
#   worker    node --max-old-space-size=256 --max-semi-space-size=8 dist/workers/worker.js   (with WORKER_QUEUES, WORKER_HEALTH_PORT)
#   migrate   node dist/workers/migrate.js run                        (advisory-locked; the Argo CD PreSync Job)
# Node 24 is the active LTS line (Node 20 is out of support). The HEALTHCHECK asks the container's own
# process: a worker on WORKER_HEALTH_PORT, the API on PORT.
#
# Both stages use one base image pinned by digest (node:24-bookworm-slim, 24.18.0 when pinned): a rebuild
# of the same commit gets the same base, and a new base is a reviewed commit (Dependabot's docker updates,
# .github/dependabot.yml), not a surprise. Keep the two FROM lines equal.

# ---- build: install everything, compile, then drop the dev dependencies
FROM node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d AS build
WORKDIR /app
ENV CI=true NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN npm ci
# .dockerignore keeps out node_modules, dist, tests, scripts, bench, tools, .local and .env files
COPY . .
RUN npm run build \
 && test -f dist/src/main.js \
 && test -f dist/workers/worker.js \
 && test -f dist/workers/migrate.js \
 && test -f dist/src/health/probe.js \
 && test ! -e dist/scripts && test ! -e dist/bench \
 && npm prune --omit=dev \
 && npm cache clean --force

# ---- runtime: compiled code and production dependencies only, as the unprivileged `node` user (uid 1000)
FROM node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d AS runtime
ENV NODE_ENV=production PORT=3000 NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
# The cleanup archive's default folder (ARCHIVE_DIR in docker-compose.yml), owned by the runtime user so
# that a volume mounted there starts writable by it.
RUN mkdir -p /var/lib/legacy-migration/archive \
 && chown -R node:node /var/lib/legacy-migration
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=6 \
  CMD ["node", "dist/src/health/probe.js"]
CMD ["node", "dist/src/main.js"]
