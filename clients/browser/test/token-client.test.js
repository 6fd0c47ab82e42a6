// The token client against a fake fetch: Retry-After, bounds, cancellation, error mapping, no token in the console.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";

import { DEFAULT_RETRY, TokenBrokerError, createTokenClient, parseRetryAfter } from "../src/index.js";

const ENDPOINT = "https://api.example.test/token";
const ID_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjb2duaXRvLXVzZXIifQ.aWQtdG9rZW4tc2lnbmF0dXJl";
const TABLEAU_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.dGFibGVhdS1zaWduYXR1cmUtc2VjcmV0";

function issuedBody(overrides = {}) {
  return {
    token: TABLEAU_TOKEN,
    token_type: "tableau-connected-app-jwt",
    expires_at: "2026-11-23T03:28:39Z",
    expires_in: 300,
    scopes: ["tableau:views:embed"],
    tableau: { url: "https://tableau.example.test", site: "analytics" },
    ...overrides,
  };
}

const json = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
const brokerError = (status, code, headers = {}) => json(status, { error: { code, message: `fixed text for ${code}` } }, headers);
const unavailable = (retryAfter) =>
  brokerError(503, "dependency_unavailable", retryAfter === undefined ? {} : { "Retry-After": retryAfter });

/** A fetch that answers from a script (responses, or functions of the request) and records every request. */
function fakeFetch(...script) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    if (init.signal?.aborted) throw init.signal.reason;
    const next = script.shift();
    if (next === undefined) throw new Error("fake fetch: no answer scripted");
    return typeof next === "function" ? next(url, init) : next;
  };
  return { fetch, calls };
}

/** A sleep that records what it was asked to wait and returns at once. */
function fakeSleep() {
  const waits = [];
  const sleep = async (ms, signal) => {
    waits.push(ms);
    if (signal?.aborted) throw signal.reason;
  };
  return { sleep, waits };
}

function client(fetch, options = {}) {
  return createTokenClient({ endpoint: ENDPOINT, getToken: async () => ID_TOKEN, fetch, ...options });
}

async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-11-23T03:00:00Z");

  test("delay-seconds", () => {
    assert.equal(parseRetryAfter("2", now), 2000);
    assert.equal(parseRetryAfter(" 0 ", now), 0);
    assert.equal(parseRetryAfter("120", now), 120_000);
  });

  test("HTTP-date, in the future and in the past", () => {
    assert.equal(parseRetryAfter("Mon, 23 Nov 2026 03:00:05 GMT", now), 5000);
    assert.equal(parseRetryAfter("Mon, 23 Nov 2026 02:59:00 GMT", now), 0);
    assert.equal(parseRetryAfter("Monday, 23-Nov-26 03:00:03 GMT", now), 3000); // RFC 850, obsolete but valid
  });

  test("anything else is no answer", () => {
    for (const value of [null, undefined, "", "  ", "-1", "1.5", "2s", "soon", "1e3", "Mon, 99 Foo 2026 GMT"]) {
      assert.equal(parseRetryAfter(value, now), null, String(value));
    }
  });
});

describe("fetchToken", () => {
  test("sends the identity token and the scopes, returns the issued token", async () => {
    const { fetch, calls } = fakeFetch(json(200, issuedBody()));
    const issued = await client(fetch).fetchToken({ scopes: ["tableau:views:embed"] });
    assert.equal(issued.token, TABLEAU_TOKEN);
    assert.equal(issued.tokenType, "tableau-connected-app-jwt");
    assert.equal(issued.expiresAt.toISOString(), "2026-11-23T03:28:39.000Z");
    assert.equal(issued.expiresIn, 300);
    assert.deepEqual(issued.scopes, ["tableau:views:embed"]);
    assert.equal(issued.tableauUrl, "https://tableau.example.test");
    assert.equal(issued.site, "analytics");
    assert.equal(calls.length, 1);
    const [{ url, init }] = calls;
    assert.equal(url, ENDPOINT);
    assert.equal(init.method, "POST");
    assert.equal(init.headers.Authorization, `Bearer ${ID_TOKEN}`);
    assert.deepEqual(JSON.parse(init.body), { scopes: ["tableau:views:embed"] });
    assert.equal(init.credentials, "omit");
    assert.equal(init.cache, "no-store");
  });

  test("without scopes the body is empty, so the broker's defaults apply", async () => {
    const { fetch, calls } = fakeFetch(json(200, issuedBody()));
    await client(fetch).fetchToken();
    assert.deepEqual(JSON.parse(calls[0].init.body), {});
  });

  test("asks getToken before every request (a refreshed Cognito token is used on retry)", async () => {
    const { fetch, calls } = fakeFetch(unavailable("0"), json(200, issuedBody()));
    const identities = ["first.id.token", "second.id.token"];
    const c = createTokenClient({ endpoint: ENDPOINT, getToken: async () => identities.shift(), fetch, sleep: fakeSleep().sleep });
    await c.fetchToken();
    assert.deepEqual(
      calls.map((call) => call.init.headers.Authorization),
      ["Bearer first.id.token", "Bearer second.id.token"],
    );
  });

  test("no identity token: unauthenticated, and the broker is not called", async () => {
    for (const getToken of [async () => undefined, async () => "  ", () => { throw new Error("no session"); }]) {
      const { fetch, calls } = fakeFetch();
      const error = await rejection(createTokenClient({ endpoint: ENDPOINT, getToken, fetch }).fetchToken());
      assert.ok(error instanceof TokenBrokerError);
      assert.equal(error.kind, "unauthenticated");
      assert.equal(error.code, "no_identity_token");
      assert.equal(error.status, null);
      assert.equal(calls.length, 0);
    }
  });
});

describe("error mapping", () => {
  const cases = [
    [brokerError(400, "invalid_request"), "invalid_request", 400, "invalid_request"],
    [brokerError(401, "unauthenticated", { "WWW-Authenticate": 'Bearer realm="tableau-token-broker"' }), "unauthenticated", 401, "unauthenticated"],
    [json(401, { message: "Unauthorized" }), "unauthenticated", 401, "http_401"], // API Gateway's JWT authorizer
    [brokerError(403, "not_entitled"), "not_entitled", 403, "not_entitled"],
    [brokerError(403, "scope_not_allowed"), "scope_not_allowed", 403, "scope_not_allowed"],
    [json(403, { message: "Forbidden" }), "forbidden", 403, "http_403"],
    [brokerError(405, "method_not_allowed"), "invalid_request", 405, "method_not_allowed"],
    [brokerError(500, "configuration_error"), "server_error", 500, "configuration_error"],
    [brokerError(500, "internal_error"), "server_error", 500, "internal_error"],
    [json(500, { message: "Internal Server Error" }), "server_error", 500, "http_500"],
    [new Response("<html>bad gateway</html>", { status: 502 }), "server_error", 502, "http_502"],
  ];
  for (const [response, kind, status, code] of cases) {
    test(`${status} ${code} -> ${kind}, not retried`, async () => {
      const { fetch, calls } = fakeFetch(response);
      const error = await rejection(client(fetch, { sleep: fakeSleep().sleep }).fetchToken());
      assert.ok(error instanceof TokenBrokerError);
      assert.equal(error.name, "TokenBrokerError");
      assert.deepEqual([error.kind, error.status, error.code], [kind, status, code]);
      assert.equal(error.retryable, false);
      assert.equal(calls.length, 1);
    });
  }

  test("a 200 that is not a token response is invalid_response, and its body is not echoed", async () => {
    for (const body of [{ token: "not-a-jwt" }, issuedBody({ tableau: null }), issuedBody({ expires_at: "never" })]) {
      const { fetch } = fakeFetch(json(200, body));
      const error = await rejection(client(fetch).fetchToken());
      assert.equal(error.kind, "invalid_response");
      assert.ok(!error.message.includes("not-a-jwt"));
      assert.ok(!error.message.includes(TABLEAU_TOKEN));
    }
  });
});

describe("503 and Retry-After", () => {
  test("waits what Retry-After asks (seconds), then succeeds", async () => {
    const { fetch, calls } = fakeFetch(unavailable("2"), unavailable("1"), json(200, issuedBody()));
    const { sleep, waits } = fakeSleep();
    const retries = [];
    const issued = await client(fetch, { sleep, onRetry: (info) => retries.push(info) }).fetchToken();
    assert.equal(issued.token, TABLEAU_TOKEN);
    assert.equal(calls.length, 3);
    assert.deepEqual(waits, [2000, 1000]);
    assert.deepEqual(
      retries.map((r) => [r.attempt, r.delayMs, r.kind, r.status, r.code]),
      [
        [1, 2000, "unavailable", 503, "dependency_unavailable"],
        [2, 1000, "unavailable", 503, "dependency_unavailable"],
      ],
    );
  });

  test("an HTTP-date Retry-After is measured from the client's clock", async () => {
    const now = () => Date.parse("2026-11-23T03:00:00Z");
    const { fetch } = fakeFetch(unavailable("Mon, 23 Nov 2026 03:00:03 GMT"), json(200, issuedBody()));
    const { sleep, waits } = fakeSleep();
    await client(fetch, { sleep, now }).fetchToken();
    assert.deepEqual(waits, [3000]);
  });

  test("no or unreadable Retry-After (e.g. not exposed by CORS): the fallback delay", async () => {
    const { fetch } = fakeFetch(unavailable(), unavailable("later"), json(200, issuedBody()));
    const { sleep, waits } = fakeSleep();
    await client(fetch, { sleep }).fetchToken();
    assert.deepEqual(waits, [DEFAULT_RETRY.fallbackDelayMs, DEFAULT_RETRY.fallbackDelayMs]);
  });

  test("API Gateway's 429 and a network failure are retried too", async () => {
    const { fetch, calls } = fakeFetch(
      json(429, { message: "Too Many Requests" }),
      () => Promise.reject(new TypeError("Failed to fetch")),
      json(200, issuedBody()),
    );
    const { sleep } = fakeSleep();
    const issued = await client(fetch, { sleep }).fetchToken();
    assert.equal(issued.site, "analytics");
    assert.equal(calls.length, 3);
  });

  test("the number of retries is bounded: the last 503 is surfaced with its Retry-After", async () => {
    const { fetch, calls } = fakeFetch(unavailable("1"), unavailable("1"), unavailable("1"), json(200, issuedBody()));
    const { sleep, waits } = fakeSleep();
    const error = await rejection(client(fetch, { sleep }).fetchToken());
    assert.equal(calls.length, DEFAULT_RETRY.maxRetries + 1);
    assert.equal(waits.length, DEFAULT_RETRY.maxRetries);
    assert.deepEqual([error.kind, error.status, error.code, error.retryAfterMs], ["unavailable", 503, "dependency_unavailable", 1000]);
    assert.equal(error.retryable, true);
  });

  test("maxRetries is configurable; 0 means no retry", async () => {
    const { fetch, calls } = fakeFetch(unavailable("1"), json(200, issuedBody()));
    const { sleep, waits } = fakeSleep();
    const error = await rejection(client(fetch, { sleep, retry: { maxRetries: 0 } }).fetchToken());
    assert.equal(error.kind, "unavailable");
    assert.equal(calls.length, 1);
    assert.deepEqual(waits, []);
  });

  test("a wait past the total bound is not started: the error comes at once", async () => {
    const { fetch, calls } = fakeFetch(unavailable("4"), unavailable("4"), json(200, issuedBody()));
    const { sleep, waits } = fakeSleep();
    const error = await rejection(client(fetch, { sleep, retry: { maxRetries: 5, maxTotalWaitMs: 6000 } }).fetchToken());
    assert.deepEqual(waits, [4000]); // 4 s + 4 s would pass 6 s
    assert.equal(calls.length, 2);
    assert.equal(error.retryAfterMs, 4000);
  });

  test("a Retry-After beyond the total bound is never waited for", async () => {
    const { fetch, calls } = fakeFetch(unavailable("3600"));
    const { sleep, waits } = fakeSleep();
    const error = await rejection(client(fetch, { sleep }).fetchToken());
    assert.deepEqual(waits, []);
    assert.equal(calls.length, 1);
    assert.equal(error.retryAfterMs, 3_600_000);
  });

  test("invalid retry settings are refused when the client is made", () => {
    for (const retry of [{ maxRetries: -1 }, { maxTotalWaitMs: 1.5 }, { fallbackDelayMs: "1000" }]) {
      assert.throws(() => client(fakeFetch().fetch, { retry }), TypeError);
    }
  });
});

describe("cancellation", () => {
  test("an aborted signal stops before any request", async () => {
    const { fetch, calls } = fakeFetch(json(200, issuedBody()));
    const error = await rejection(client(fetch).fetchToken({ signal: AbortSignal.abort() }));
    assert.equal(error.kind, "aborted");
    assert.equal(calls.length, 0);
  });

  test("aborting cancels the request in flight", async () => {
    const controller = new AbortController();
    let started;
    const inFlight = new Promise((resolve) => {
      started = resolve;
    });
    const fetch = (_url, init) =>
      new Promise((_resolve, reject) => {
        init.signal.addEventListener("abort", () => reject(init.signal.reason));
        started();
      });
    const pending = client(fetch).fetchToken({ signal: controller.signal });
    await inFlight;
    controller.abort();
    const error = await rejection(pending);
    assert.equal(error.kind, "aborted");
    assert.equal(error.code, "aborted");
  });

  test("aborting cancels a Retry-After wait at once (the real timer, not a fake one)", async () => {
    const controller = new AbortController();
    const { fetch, calls } = fakeFetch(unavailable("5"), json(200, issuedBody()));
    const started = performance.now();
    const pending = client(fetch, {
      onRetry: () => queueMicrotask(() => controller.abort()),
    }).fetchToken({ signal: controller.signal });
    const error = await rejection(pending);
    assert.equal(error.kind, "aborted");
    assert.equal(calls.length, 1);
    assert.ok(performance.now() - started < 4000, "the 5 s wait was not cut short");
  });
});

describe("no token in the console", () => {
  const methods = ["log", "info", "warn", "error", "debug", "trace"];
  let written;
  let originals;

  beforeEach(() => {
    written = [];
    originals = Object.fromEntries(methods.map((m) => [m, console[m]]));
    for (const m of methods) console[m] = (...args) => written.push(args.map(String).join(" "));
  });
  afterEach(() => {
    for (const m of methods) console[m] = originals[m];
  });

  test("neither the identity token nor the Tableau token is written, on success or failure", async () => {
    const { fetch } = fakeFetch(
      unavailable("0"),
      () => Promise.reject(new TypeError("Failed to fetch")),
      json(200, issuedBody()),
      brokerError(403, "not_entitled"),
      json(200, { token: TABLEAU_TOKEN }),
    );
    const c = client(fetch, { sleep: fakeSleep().sleep });
    const issued = await c.fetchToken();
    const errors = [await rejection(c.fetchToken()), await rejection(c.fetchToken())];
    assert.equal(issued.token, TABLEAU_TOKEN);
    assert.deepEqual(written, []);
    for (const error of errors) {
      const shown = `${error} ${error.message} ${JSON.stringify(error)} ${error.stack}`;
      for (const secret of [ID_TOKEN, TABLEAU_TOKEN, TABLEAU_TOKEN.split(".")[2]]) assert.ok(!shown.includes(secret));
    }
  });
});
