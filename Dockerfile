# chatstream's own services. Node 24 runs the TypeScript sources directly (type stripping).
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# The image already has Node 24: skip dev tools (including the `node` binary package).
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY . .
USER node
ENTRYPOINT ["node", "cli/main.ts"]
CMD ["start", "--no-stack"]
