// The local gateway that scripts/dev.sh starts: the built worker (workers/build) in workerd,
// served by Miniflare's own HTTP server, configured from wrangler.toml and .dev.vars by
// wrangler's own API (unstable_getMiniflareWorkerOptions), with D1 kept where
// `wrangler d1 ... --local --persist-to DIR` keeps it. The same workerd and Miniflare that
// `wrangler dev` runs, and that the end-to-end suite and the benchmark use, minus wrangler
// dev's proxy.
//
// Why not `wrangler dev` itself: its proxy (a Durable Object in a second workerd that pipes
// every request to the worker in JavaScript, wrangler 4.86) fails whenever the worker answers
// without reading a request body to its end and the body stream is cancelled, or the client goes
// away mid-body: a POST gets "503 Your worker restarted mid-request", the next request on the
// server may stall until its client gives up, and when the request's path is "/" the error
// reaches wrangler's controller and wrangler exits (every later connection is refused). A
// plain JavaScript worker that cancels a body does the same; the same worker served here, or
// by Miniflare in the tests, does not (README "Run it locally").
//
//   node scripts/dev-server.mjs --port 8787 [--persist-to .wrangler/state] [--dev-vars FILE]
//                               [--var NAME=VALUE]...
// Logs "Ready on http://127.0.0.1:PORT" once it serves, then each request; SIGINT/SIGTERM stop it.
import { Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function parseArgs(argv) {
  const args = { port: 8787, persistTo: path.join(root, ".wrangler/state"), devVars: undefined, vars: {} };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case "--port": args.port = Number(value); i++; break;
      case "--persist-to": args.persistTo = path.resolve(value); i++; break;
      case "--dev-vars": args.devVars = path.resolve(value); i++; break;
      case "--var": {
        const eq = value.indexOf("=");
        if (eq < 1) throw new Error(`--var wants NAME=VALUE, got ${value}`);
        args.vars[value.slice(0, eq)] = value.slice(eq + 1);
        i++;
        break;
      }
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!Number.isInteger(args.port)) throw new Error("--port wants a number");
  return args;
}

/** NAME=VALUE lines, as in .dev.vars (blank lines and # comments skipped, quotes removed). */
function readDevVars(file) {
  const vars = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) vars[m[1]] = m[2].replace(/^"(.*)"$/, "$1");
  }
  return vars;
}

const args = parseArgs(process.argv.slice(2));
process.chdir(root);
// wrangler.toml's vars, D1 binding and compatibility date; .dev.vars at the root if present.
const { workerOptions, main } = unstable_getMiniflareWorkerOptions(path.join(root, "wrangler.toml"));
const mf = new Miniflare({
  ...workerOptions,
  name: "isogate",
  modules: true,
  scriptPath: main,
  // The build (scripts/build-worker.sh) is an ES module importing its wasm (TOOLCHAIN: the rules must be
  // explicit).
  modulesRules: [
    { type: "ESModule", include: ["**/*.js"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  bindings: {
    ...workerOptions.bindings,
    ...(args.devVars ? readDevVars(args.devVars) : {}),
    ...args.vars,
  },
  // Where `wrangler d1 migrations apply --local --persist-to DIR` put the database.
  defaultPersistRoot: path.join(args.persistTo, "v3"),
  host: "127.0.0.1",
  port: args.port,
  // No request.cf: Miniflare would otherwise fetch it from the internet at start-up.
  cf: false,
  log: new Log(LogLevel.INFO),
});
// Miniflare logs "[mf:info] Ready on http://127.0.0.1:PORT", then one line per request.
await mf.ready;

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await mf.dispose().catch(() => {});
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
