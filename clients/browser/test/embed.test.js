// The embed helper against a stand-in for the web component that raises the library's events. The real library
// and the real sign-in are exercised by tests/e2e/test_browser.py in Chromium.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { TableauEmbedError, TokenBrokerError, embedView, viewUrl } from "../src/index.js";

const refusal = (code) => ({
  errorCode: "auth-failed",
  message: JSON.stringify({ statusCode: 401, errorMessage: JSON.stringify({ result: { errors: [{ code, message: "Login failed" }] } }) }),
});

/** A web component that, once in the page, answers each token by the verdict `judge(token)` returns. */
class FakeComponent extends EventTarget {
  constructor(tagName, judge) {
    super();
    this.tagName = tagName.toUpperCase();
    this.attributes = new Map();
    this.judge = judge;
    this.connected = false;
  }
  setAttribute(name, value) {
    this.attributes.set(name, value);
    if (name === "token" && this.connected) this.signIn();
  }
  getAttribute(name) {
    return this.attributes.get(name) ?? null;
  }
  signIn() {
    const verdict = this.judge(this.getAttribute("token"));
    if (verdict === "pending") return;
    queueMicrotask(() => {
      const event = new Event(verdict === "ok" ? "iframesrcupdated" : "vizloaderror");
      if (verdict !== "ok") event.detail = verdict;
      this.dispatchEvent(event);
    });
  }
}

function page(judge, { defined = Promise.resolve() } = {}) {
  const created = [];
  const document = {
    defaultView: { customElements: { whenDefined: () => defined } },
    createElement: (tag) => {
      const element = new FakeComponent(tag, judge);
      created.push(element);
      return element;
    },
  };
  const container = {
    ownerDocument: document,
    children: [],
    replaceChildren(...nodes) {
      this.children = nodes;
      for (const node of nodes) {
        node.connected = true;
        node.signIn();
      }
    },
  };
  return { container, created };
}

/** A token source that hands out numbered tokens and records the scopes asked for. */
function tokens(...failures) {
  const asked = [];
  let n = 0;
  return {
    asked,
    async fetchToken({ scopes, signal } = {}) {
      asked.push(scopes);
      if (signal?.aborted) throw new TokenBrokerError("aborted", "cancelled");
      const failure = failures.shift();
      if (failure) throw failure;
      n += 1;
      return { token: `h.p.s${n}`, tableauUrl: "https://tableau.example.test/", site: "analytics", scopes };
    },
  };
}

async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

describe("embedView", () => {
  test("creates the component with a fresh token, the src and the attributes", async () => {
    const { container, created } = page(() => "ok");
    const client = tokens();
    const view = await embedView(container, {
      client,
      src: (target) => viewUrl(target, "TenantSales/Orders"),
      attributes: { toolbar: "hidden", "hide-tabs": true, width: 800, device: null, debug: false },
    });
    assert.equal(created.length, 1);
    assert.equal(view.element, created[0]);
    assert.equal(view.kind, "viz");
    assert.deepEqual(container.children, [view.element]);
    assert.equal(view.element.tagName, "TABLEAU-VIZ");
    assert.equal(view.element.getAttribute("token"), "h.p.s1");
    assert.equal(view.element.getAttribute("src"), "https://tableau.example.test/t/analytics/views/TenantSales/Orders");
    assert.equal(view.element.getAttribute("toolbar"), "hidden");
    assert.equal(view.element.getAttribute("hide-tabs"), "");
    assert.equal(view.element.getAttribute("width"), "800");
    assert.equal(view.element.getAttribute("device"), null);
    assert.equal(view.element.getAttribute("debug"), null);
    assert.deepEqual(client.asked, [["tableau:views:embed"]]);
  });

  test("each kind is its web component with its embed scope", async () => {
    const expected = {
      viz: ["TABLEAU-VIZ", "tableau:views:embed"],
      authoring: ["TABLEAU-AUTHORING-VIZ", "tableau:views:embed_authoring"],
      pulse: ["TABLEAU-PULSE", "tableau:insights:embed"],
    };
    for (const [kind, [tag, scope]] of Object.entries(expected)) {
      const { container } = page(() => "ok");
      const client = tokens();
      const view = await embedView(container, { client, kind, src: "https://tableau.example.test/x" });
      assert.equal(view.element.tagName, tag);
      assert.deepEqual(client.asked, [[scope]]);
    }
    await assert.rejects(embedView(page(() => "ok").container, { client: tokens(), kind: "ask-data", src: "x" }), TypeError);
  });

  test("auth-failed: one new token is fetched and set on the same component, which then loads", async () => {
    const { container, created } = page((token) => (token === "h.p.s1" ? refusal(16) : "ok"));
    const client = tokens();
    const view = await embedView(container, { client, src: "https://tableau.example.test/t/analytics/views/W/V" });
    assert.equal(created.length, 1);
    assert.equal(view.element.getAttribute("token"), "h.p.s2");
    assert.equal(client.asked.length, 2);
  });

  test("auth-failed twice: a typed error with Tableau's status and code, no third token", async () => {
    const { container } = page(() => refusal(127));
    const client = tokens();
    const error = await rejection(embedView(container, { client, src: "https://tableau.example.test/t/a/views/W/V" }));
    assert.ok(error instanceof TableauEmbedError);
    assert.deepEqual(
      [error.name, error.kind, error.errorCode, error.status, error.tableauCode, error.tableauMessage],
      ["TableauEmbedError", "auth_failed", "auth-failed", 401, "127", "Login failed"],
    );
    assert.ok(!error.message.includes("h.p.s"));
    assert.equal(client.asked.length, 2);
  });

  test("another load error is surfaced at once, without a new token", async () => {
    const { container } = page(() => ({ errorCode: "unknown-auth-error", message: "{}" }));
    const client = tokens();
    const error = await rejection(embedView(container, { client, src: "https://tableau.example.test/t/a/views/W/V" }));
    assert.deepEqual([error.kind, error.errorCode, error.status], ["load_failed", "unknown-auth-error", null]);
    assert.equal(client.asked.length, 1);
  });

  test("a refused token request creates no component", async () => {
    const { container, created } = page(() => "ok");
    const notEntitled = new TokenBrokerError("not_entitled", "not entitled", { status: 403, code: "not_entitled" });
    const error = await rejection(embedView(container, { client: tokens(notEntitled), src: "https://t.example/x" }));
    assert.equal(error, notEntitled);
    assert.equal(created.length, 0);
    assert.deepEqual(container.children, []);
  });

  test("no token is fetched before the library defined the component; aborting stops the wait", async () => {
    const { container } = page(() => "ok", { defined: new Promise(() => {}) });
    const client = tokens();
    const controller = new AbortController();
    const pending = embedView(container, { client, src: "https://t.example/x", signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(client.asked.length, 0);
    controller.abort();
    const error = await rejection(pending);
    assert.deepEqual([error.name, error.kind], ["TableauEmbedError", "aborted"]);
    assert.equal(client.asked.length, 0);
  });

  test("aborting while Tableau is signing in rejects as aborted", async () => {
    const { container, created } = page(() => "pending");
    const controller = new AbortController();
    const pending = embedView(container, { client: tokens(), src: "https://t.example/x", signal: controller.signal });
    while (created.length === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    const error = await rejection(pending);
    assert.equal(error.kind, "aborted");
  });
});

describe("viewUrl", () => {
  test("site and Default site, with path segments encoded", () => {
    assert.equal(
      viewUrl({ tableauUrl: "https://t.example/", site: "analytics" }, "Tenant Sales/Orders"),
      "https://t.example/t/analytics/views/Tenant%20Sales/Orders",
    );
    assert.equal(viewUrl({ tableauUrl: "https://t.example", site: "" }, "/W/V"), "https://t.example/views/W/V");
  });
});
