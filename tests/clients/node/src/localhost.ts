// Test-only plumbing, loaded with `node --import ./dist/localhost.js` before an example so
// the examples stay exactly as a workload would write them:
// RFC 6761 §6.3: names under .localhost resolve to loopback. curl and browsers do that
// themselves; glibc's getaddrinfo (behind dns.lookup, used by http/https, axios and fetch)
// does not. Trust in the local gateway's throwaway CA comes from NODE_EXTRA_CA_CERTS.
import dns from "node:dns";

type LookupFn = (hostname: string, options: unknown, callback: (...args: unknown[]) => void) => void;
const lookup = dns.lookup as unknown as LookupFn;

(dns as unknown as { lookup: LookupFn }).lookup = (hostname, options, callback) =>
  lookup(hostname.endsWith(".localhost") ? "127.0.0.1" : hostname, options, callback);
