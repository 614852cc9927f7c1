# chatstream's own services. Node 24 runs the TypeScript sources directly (type stripping).
# .dockerignore keeps .env files, config files, keys and secret folders out of the build context:
# secrets reach the container at run time only (environment or <VAR>_FILE).
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# The image already has Node 24: skip dev tools (including the `node` binary package).
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY . .
USER node
# Collector, Freshchat webhooks, sink metrics, producer metrics (docker-compose.yml maps them).
EXPOSE 8090 8091 9464 9465
ENTRYPOINT ["node", "cli/main.ts"]
CMD ["start", "--no-stack"]
