# runnel node image. One container runs one node: `runnel node --config /etc/runnel/cluster.yaml --id N`.
# Build: docker build -t runnel .
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production RUNNEL_CONFIG=/etc/runnel/cluster.yaml RUNNEL_NODE_ID=1
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY raft ./raft
COPY storage ./storage
COPY src ./src
RUN mkdir -p /var/lib/runnel && chown node:node /var/lib/runnel
USER node
VOLUME ["/var/lib/runnel"]
CMD ["sh", "-c", "exec node --import tsx src/cli/main.ts node --config \"$RUNNEL_CONFIG\" --id \"$RUNNEL_NODE_ID\""]
