// D1 for plain `workerd serve`. Miniflare wires D1 as a wrapped binding: workerd's own client
// module `cloudflare-internal:d1-api` (what `env.DB` is in production too) over an inner
// `fetcher` service, which Miniflare implements as a SQLite-backed Durable Object. This is that
// service, minus Miniflare's internals: it answers the client's POST /query and /execute
// ({sql, params} or an array of them, `resultsFormat` in the query) from a SQLite-backed
// Durable Object, and counts the statements it runs (GET /stats) so the benchmark can tell how
// many D1 queries a request cost.
import { DurableObject } from "cloudflare:workers";

export class D1Object extends DurableObject {
  statements = 0;

  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/stats") return Response.json({ statements: this.statements });
    if (request.method !== "POST" || (url.pathname !== "/query" && url.pathname !== "/execute")) {
      return new Response("not found", { status: 404 });
    }
    const body = await request.json();
    const queries = Array.isArray(body) ? body : [body];
    const format = url.searchParams.get("resultsFormat") ?? "ARRAY_OF_OBJECTS";
    const sql = this.ctx.storage.sql;
    try {
      const results = this.ctx.storage.transactionSync(() =>
        queries.map(({ sql: text, params }) => {
          this.statements++;
          const before = sql.exec("SELECT total_changes() AS c").one().c;
          const cursor = sql.exec(text, ...(params ?? []));
          const columns = cursor.columnNames;
          const rows = [...cursor.raw()];
          const changes = sql.exec("SELECT total_changes() AS c").one().c - before;
          const results = format === "ROWS_AND_COLUMNS"
            ? { columns, rows }
            : format === "NONE" ? undefined : rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]])));
          return {
            success: true,
            results,
            meta: { served_by: "isogate-bench-d1", duration: 0, changes, last_row_id: 0, changed_db: changes > 0, rows_read: cursor.rowsRead, rows_written: cursor.rowsWritten },
          };
        }));
      return Response.json(Array.isArray(body) ? results : results[0]);
    } catch (e) {
      return Response.json({ success: false, error: String(e?.message ?? e) });
    }
  }
}

export default {
  fetch(request, env) {
    return env.DB_OBJECT.get(env.DB_OBJECT.idFromName("db")).fetch(request);
  },
};
