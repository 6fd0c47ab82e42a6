// The embed helper: a fresh token per load, Tableau's web component, and one retry with a new token when Tableau
// refuses the first (a connected-app JWT is one-shot and short-lived: it may have expired or been redeemed).

import { TableauEmbedError } from "./errors.js";

/** Each web component of @tableau/embedding-api and the one embed scope its token needs. */
export const VIEW_KINDS = Object.freeze({
  viz: Object.freeze({ tag: "tableau-viz", scopes: Object.freeze(["tableau:views:embed"]) }),
  authoring: Object.freeze({ tag: "tableau-authoring-viz", scopes: Object.freeze(["tableau:views:embed_authoring"]) }),
  pulse: Object.freeze({ tag: "tableau-pulse", scopes: Object.freeze(["tableau:insights:embed"]) }),
});

// Names as @tableau/embedding-api 3.x defines them: TableauEventType.VizLoadError and .IframeSrcUpdated (raised
// once the sign-in succeeded and the iframe is pointed at the view), EmbeddingErrorCodes.AuthFailed.
export const LOAD_ERROR_EVENT = "vizloaderror";
export const SIGNED_IN_EVENT = "iframesrcupdated";
export const AUTH_FAILED = "auth-failed";

/** The URL of a view on the issued token's Tableau site: `viewUrl(target, "Workbook/View")`. */
export function viewUrl(target, path) {
  const base = String(target.tableauUrl).replace(/\/+$/, "");
  const view = String(path)
    .replace(/^\/+/, "")
    .split("/")
    .map((part) => encodeURIComponent(decodeURIComponent(part)))
    .join("/");
  const site = target.site ? `/t/${encodeURIComponent(target.site)}` : ""; // "" is the Default site
  return `${base}${site}/views/${view}`;
}

/**
 * Fetch a token, create the web component in `container` and wait until Tableau accepted the sign-in.
 * On `auth-failed` one new token is fetched and tried; a second refusal (or any other load error) rejects with a
 * TableauEmbedError. A failed token request rejects with the client's TokenBrokerError, before any element exists.
 */
export async function embedView(container, options) {
  const { client, kind = "viz", src, attributes = {}, signal } = options ?? {};
  const view = Object.hasOwn(VIEW_KINDS, kind) ? VIEW_KINDS[kind] : null;
  if (view === null) throw new TypeError(`embedView: kind must be one of ${Object.keys(VIEW_KINDS).join(", ")}`);
  if (typeof client?.fetchToken !== "function") throw new TypeError("embedView: `client` must have fetchToken()");
  if (typeof src !== "string" && typeof src !== "function") throw new TypeError("embedView: `src` is required");
  const scopes = options.scopes ?? view.scopes;
  const document = container.ownerDocument;
  const registry = document.defaultView?.customElements ?? globalThis.customElements;

  // The library must be loaded before a token is fetched: the token is short-lived and good for one sign-in.
  await untilAborted(registry.whenDefined(view.tag), signal);
  const first = await client.fetchToken({ scopes, signal });
  const element = document.createElement(view.tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  element.setAttribute("src", typeof src === "function" ? src({ tableauUrl: first.tableauUrl, site: first.site }) : src);
  element.setAttribute("token", first.token);

  let outcome = nextOutcome(element, signal);
  container.replaceChildren(element);
  let failure = await outcome;
  if (failure?.errorCode === AUTH_FAILED) {
    const fresh = await client.fetchToken({ scopes, signal });
    outcome = nextOutcome(element, signal);
    element.setAttribute("token", fresh.token); // the library signs in again with the new token
    failure = await outcome;
  }
  if (failure) throw embedError(failure);
  return { element, kind };
}

/** Resolves with `null` once the component signed in, or with the load error's detail. */
function nextOutcome(element, signal) {
  return new Promise((resolve, reject) => {
    const settle = (value, isError) => {
      element.removeEventListener(SIGNED_IN_EVENT, onSignedIn);
      element.removeEventListener(LOAD_ERROR_EVENT, onLoadError);
      signal?.removeEventListener("abort", onAbort);
      (isError ? reject : resolve)(value);
    };
    const onSignedIn = () => settle(null, false);
    const onLoadError = (event) => settle(event.detail ?? {}, false);
    const onAbort = () => settle(abortedEmbed(signal.reason), true);
    if (signal?.aborted) {
      reject(abortedEmbed(signal.reason));
      return;
    }
    element.addEventListener(SIGNED_IN_EVENT, onSignedIn);
    element.addEventListener(LOAD_ERROR_EVENT, onLoadError);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function untilAborted(promise, signal) {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortedEmbed(signal.reason));
      return;
    }
    const onAbort = () => reject(abortedEmbed(signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * The library's VizLoadErrorEvent detail: `errorCode` and a `message` that is JSON
 * `{"statusCode": 401, "errorMessage": "<Tableau's response body>"}` for a refused sign-in.
 */
function embedError(detail) {
  const errorCode = typeof detail.errorCode === "string" ? detail.errorCode : "unknown";
  let status = null;
  let tableauCode = null;
  let tableauMessage = null;
  try {
    const parsed = JSON.parse(detail.message);
    status = Number.isInteger(parsed.statusCode) ? parsed.statusCode : null;
    const first = JSON.parse(parsed.errorMessage).result.errors[0];
    tableauCode = first.code === undefined || first.code === null ? null : String(first.code);
    tableauMessage = typeof first.message === "string" ? first.message : null;
  } catch {
    // not Tableau's JSON error shape: the error code alone says what happened
  }
  const refused = errorCode === AUTH_FAILED;
  const facts = [status === null ? null : `HTTP ${status}`, tableauCode === null ? null : `Tableau error ${tableauCode}`];
  const said = facts.filter(Boolean).join(", ");
  const text = refused
    ? `Tableau refused the sign-in${said ? ` (${said})` : ""}, also with a new token.`
    : `The Tableau view could not be loaded (${errorCode}).`;
  return new TableauEmbedError(refused ? "auth_failed" : "load_failed", text, {
    errorCode,
    status,
    tableauCode,
    tableauMessage,
  });
}

function abortedEmbed(cause) {
  return new TableauEmbedError("aborted", "Embedding the view was cancelled.", { errorCode: "aborted", cause });
}
