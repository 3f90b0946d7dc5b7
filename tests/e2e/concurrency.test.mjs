// Requests that arrive together on one isolate for records no cache holds yet. workerd cancels a
// request that awaits a storage read another request started (it is answered 500 as "hung"),
// so on Workers the caches never park a request on another's read (GatewayCell::
// for_isolated_requests); every request must be answered by the gateway, none by the runtime.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGateway, RUNTIME } from "./harness.mjs";

describe(`concurrent cold requests (${RUNTIME})`, () => {
  let gw;
  before(async () => {
    gw = await startGateway();
    await gw.createService("my-api");
  });
  after(() => gw?.stop());

  it("a_burst_of_first_requests_for_one_credential_is_answered_by_the_gateway_every_time", async () => {
    for (const round of [1, 2, 3]) {
      // A new credential and service each round: every cache misses at once.
      const service = `burst-${round}`;
      await gw.createService(service);
      const cred = await gw.createCredential(`burst-cred-${round}`);
      const token = await gw.accessToken(cred);
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => gw.service(service, "/anything", { headers: { authorization: `Bearer ${token}` } })),
      );
      const statuses = answers.map((r) => r.status);
      assert.deepEqual(statuses, Array(20).fill(200), `round ${round}: ${statuses.join(",")}`);
    }
  });
});
