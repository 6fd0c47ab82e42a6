// The token client: POST the caller's Cognito token to the broker, get a Tableau connected-app token back.
// It keeps nothing: every call asks `getToken` for the current identity and the broker for a fresh token, and
// nothing here writes to the console or to storage.

import { TokenBrokerError, brokerErrorFor } from "./errors.js";
import { abortableSleep, parseRetryAfter } from "./retry-after.js";

/** Retries of a 503/429 or a network failure: few, and never more waiting in total than `maxTotalWaitMs`. */
export const DEFAULT_RETRY = Object.freeze({ maxRetries: 2, maxTotalWaitMs: 10_000, fallbackDelayMs: 1_000 });

/**
 * @param {object} options
 * @param {string | URL} options.endpoint the broker's `POST /token` URL
 * @param {(context: {signal?: AbortSignal}) => Promise<string> | string} options.getToken the caller's current
 *   Cognito ID (or access) token, e.g. from Amplify's `fetchAuthSession()`
 */
export function createTokenClient(options) {
  const { endpoint, getToken } = options ?? {};
  if (!(typeof endpoint === "string" && endpoint !== "") && !(endpoint instanceof URL)) {
    throw new TypeError("createTokenClient: `endpoint` must be the broker's POST /token URL");
  }
  if (typeof getToken !== "function") {
    throw new TypeError("createTokenClient: `getToken` must be a function returning the caller's Cognito token");
  }
  const retry = retrySettings(options.retry);
  const fetchImpl = options.fetch ?? ((...args) => globalThis.fetch(...args));
  const sleep = options.sleep ?? abortableSleep;
  const now = options.now ?? Date.now;
  const onRetry = options.onRetry;
  const defaultScopes = options.scopes;

  async function fetchToken({ scopes = defaultScopes, signal } = {}) {
    const body = JSON.stringify(scopes === undefined ? {} : { scopes: [...scopes] });
    let waitedMs = 0;
    for (let attempt = 0; ; attempt += 1) {
      throwIfAborted(signal);
      const identity = await identityToken(getToken, signal);
      throwIfAborted(signal);
      const outcome = await requestOnce(fetchImpl, String(endpoint), identity, body, signal, now);
      if (!(outcome instanceof TokenBrokerError)) return outcome; // the issued token
      const error = outcome;
      if (!error.retryable || attempt >= retry.maxRetries) throw error;
      const delayMs = error.retryAfterMs ?? retry.fallbackDelayMs;
      if (waitedMs + delayMs > retry.maxTotalWaitMs) throw error;
      onRetry?.({ attempt: attempt + 1, delayMs, kind: error.kind, status: error.status, code: error.code });
      try {
        await sleep(delayMs, signal);
      } catch (cause) {
        throw aborted(cause);
      }
      waitedMs += delayMs;
    }
  }

  return Object.freeze({ fetchToken });
}

function retrySettings(overrides) {
  const retry = { ...DEFAULT_RETRY, ...(overrides ?? {}) };
  for (const [name, value] of Object.entries(retry)) {
    if (!Number.isInteger(value) || value < 0) {
      throw new TypeError(`createTokenClient: retry.${name} must be a non-negative integer`);
    }
  }
  return retry;
}

async function identityToken(getToken, signal) {
  let value;
  try {
    value = await getToken({ signal });
  } catch (cause) {
    if (signal?.aborted) throw aborted(cause);
    throw noIdentity(cause);
  }
  if (typeof value !== "string" || value.trim() === "") throw noIdentity(undefined);
  return value.trim();
}

/** One POST: the issued token, or the TokenBrokerError describing the failure (thrown only when cancelled). */
async function requestOnce(fetchImpl, url, identity, body, signal, now) {
  let response;
  let parsed;
  try {
    response = await fetchImpl(url, {
      method: "POST",
      headers: { Authorization: `Bearer ${identity}`, "Content-Type": "application/json" },
      body,
      signal,
      cache: "no-store",
      credentials: "omit",
    });
    parsed = await readJson(response);
  } catch (cause) {
    if (signal?.aborted) throw aborted(cause);
    return new TokenBrokerError("network", "The token broker could not be reached.", { code: "network_error", cause });
  }
  if (!response.ok) {
    const retryAfterMs = parseRetryAfter(response.headers.get("Retry-After"), now());
    return brokerErrorFor(response.status, parsed, retryAfterMs);
  }
  return issuedToken(parsed, response.status);
}

async function readJson(response) {
  const text = await response.text();
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The broker's 200 body, checked, as `{token, tokenType, expiresAt, expiresIn, scopes, tableauUrl, site}`. */
function issuedToken(body, status) {
  const tableau = body?.tableau;
  const expiresAt = typeof body?.expires_at === "string" ? new Date(body.expires_at) : null;
  const valid =
    typeof body?.token === "string" &&
    body.token.split(".").length === 3 &&
    expiresAt !== null &&
    !Number.isNaN(expiresAt.getTime()) &&
    Number.isFinite(body.expires_in) &&
    Array.isArray(body.scopes) &&
    body.scopes.every((scope) => typeof scope === "string") &&
    typeof tableau?.url === "string" &&
    typeof tableau?.site === "string";
  if (!valid) {
    // Never echo the body: it may hold a token.
    throw new TokenBrokerError("invalid_response", "The token broker's answer is not a token response.", {
      status,
      code: "invalid_response",
    });
  }
  return Object.freeze({
    token: body.token,
    tokenType: body.token_type,
    expiresAt,
    expiresIn: body.expires_in,
    scopes: Object.freeze([...body.scopes]),
    tableauUrl: tableau.url,
    site: tableau.site,
  });
}

function throwIfAborted(signal) {
  if (signal?.aborted) throw aborted(signal.reason);
}

function aborted(cause) {
  return new TokenBrokerError("aborted", "The token request was cancelled.", { code: "aborted", cause });
}

function noIdentity(cause) {
  return new TokenBrokerError("unauthenticated", "No identity token: sign in first.", {
    code: "no_identity_token",
    cause,
  });
}
