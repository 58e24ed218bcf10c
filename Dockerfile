# runnel node image: one container runs one node, `runnel node --config FILE --id N`.
# Build: docker build -t runnel .      Run three: see README.md, "Docker".
#
#   RUNNEL_CONFIG   cluster.yaml inside the container (default /etc/runnel/cluster.yaml; mount it)
#   RUNNEL_NODE_ID  this container's node id in that file (required unless given as arguments)
#
# Arguments replace the default command and go to the `runnel` CLI as they are:
#   docker run ... runnel node --config /etc/runnel/cluster.yaml --id 2
#   docker run --rm runnel --help

# Stage 1: runtime dependencies only (tsx runs the TypeScript sources, so nothing is compiled).
# The full image has python3, make and g++ for the rare platform where classic-level (LevelDB)
# or msgpackr-extract ships no prebuilt binary; the runtime stage below has no build tools.
FROM node:20-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Stage 2: slim runtime. Same Node major and the same Debian (glibc) as stage 1, so the native
# modules built or downloaded there load here.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    RUNNEL_CONFIG=/etc/runnel/cluster.yaml
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY raft ./raft
COPY storage ./storage
COPY src ./src
# The data volume belongs to the unprivileged `node` user of the base image; a new named volume
# mounted at /data takes this ownership. Point each node's data_dir under /data.
RUN mkdir -p /data /etc/runnel && chown node:node /data
USER node
VOLUME ["/data"]
# The HTTP and rpc ports of the README's example cluster.yaml; the file decides, this documents.
EXPOSE 8081-8083 19091-19093

# Healthy = GET /healthz answers 200: the node knows a Raft leader and is a registered, unfenced
# broker. The node listens on its `host` from cluster.yaml (not necessarily on 127.0.0.1), so
# the check reads host and http_port from the file, taking --config/--id from the running
# command (PID 1) when it was given arguments, else from the environment. No curl in slim.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const fs = require('fs'); const argv = fs.readFileSync('/proc/1/cmdline', 'utf8').split('\\0'); const arg = (name) => { for (let i = 1; i < argv.length; i++) { if (argv[i] === name) return argv[i + 1]; if (argv[i].startsWith(name + '=')) return argv[i].slice(name.length + 1); } }; const file = arg('--config') ?? process.env.RUNNEL_CONFIG; const id = Number(arg('--id') ?? process.env.RUNNEL_NODE_ID); const self = require('yaml').parse(fs.readFileSync(file, 'utf8')).nodes.find((n) => n.id === id); fetch('http://' + self.host + ':' + self.http_port + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));"]

# SIGTERM (docker stop) = controlled shutdown: the node hands its partition leaderships to other
# in-sync replicas before it exits (bounded at about 5 s, plus 1 s to drain HTTP). `exec` makes
# node PID 1 so it receives the signal itself. Give `docker stop` some slack: --stop-timeout 30.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/bin/sh", "-c", "if [ \"$#\" -eq 0 ]; then set -- node --config \"$RUNNEL_CONFIG\" --id \"${RUNNEL_NODE_ID:?set RUNNEL_NODE_ID to this container's node id from cluster.yaml}\"; fi; exec node src/cli/bin.js \"$@\"", "runnel"]
CMD []
