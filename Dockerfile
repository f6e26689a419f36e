# syntax=docker/dockerfile:1
# Multi-stage: compile with the dev dependencies, ship only the runtime ones.
# It builds exactly what `npm ci && npm run build` builds on a clone: the
# compiled CLI in dist/src, the compiled example workers in dist/workers and
# the console's built assets in dist/console.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts run later, once the sources are here.
RUN npm ci --ignore-scripts --no-audit --no-fund
# The context is a clone minus .dockerignore: the build sees what
# `npm run build` sees on a developer machine (tsconfig.build.json picks
# src/ and workers/).
COPY . .
RUN npm run build

FROM node:20-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY topology ./topology
COPY --from=build /app/dist ./dist
# bin/warren.js runs dist/src/cli.js when src/ is absent, as it is here.
USER node
EXPOSE 8080
ENTRYPOINT ["node", "bin/warren.js"]
CMD ["--help"]
