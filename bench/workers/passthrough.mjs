// The baseline worker: a plain JavaScript pass-through. Same origin, same runtime, same serving
// path as Isogate, and nothing in between but `fetch(request)`.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, request);
  },
};
