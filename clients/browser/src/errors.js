// Typed errors. Messages are fixed texts or the broker's own fixed messages: never a token, never a claim.

/** The broker's stable error codes (README "The HTTP contract") and the kind each one is. */
const KIND_BY_CODE = Object.freeze({
  invalid_request: "invalid_request",
  unauthenticated: "unauthenticated",
  not_entitled: "not_entitled",
  scope_not_allowed: "scope_not_allowed",
  method_not_allowed: "invalid_request",
  dependency_unavailable: "unavailable",
  configuration_error: "server_error",
  internal_error: "server_error",
});

/** Statuses without a broker error body (API Gateway answers them itself) and the kind each one is. */
const KIND_BY_STATUS = Object.freeze({
  400: "invalid_request",
  401: "unauthenticated",
  403: "forbidden",
  429: "unavailable",
  503: "unavailable",
});

/** A failed token request: `kind` says what to do, `status` and `code` say what the broker answered. */
export class TokenBrokerError extends Error {
  constructor(kind, message, { status = null, code = null, retryAfterMs = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "TokenBrokerError";
    this.kind = kind;
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }

  /** True when asking again later may succeed (the broker or the network was unavailable). */
  get retryable() {
    return this.kind === "unavailable" || this.kind === "network";
  }
}

/** The error for a non-2xx answer of the broker, from its status and its `{"error": {"code", "message"}}` body. */
export function brokerErrorFor(status, body, retryAfterMs = null) {
  const error = body && typeof body === "object" && body.error && typeof body.error === "object" ? body.error : {};
  const code = typeof error.code === "string" ? error.code : null;
  const kind =
    (code !== null && Object.hasOwn(KIND_BY_CODE, code) ? KIND_BY_CODE[code] : null) ??
    KIND_BY_STATUS[status] ??
    (status >= 500 ? "server_error" : "invalid_request");
  const message = typeof error.message === "string" ? error.message : `The token broker answered HTTP ${status}.`;
  return new TokenBrokerError(kind, message, { status, code: code ?? `http_${status}`, retryAfterMs });
}

/** A Tableau web component that could not load, after the one retry with a fresh token for `auth-failed`. */
export class TableauEmbedError extends Error {
  constructor(kind, message, { errorCode = null, status = null, tableauCode = null, tableauMessage = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "TableauEmbedError";
    this.kind = kind;
    this.errorCode = errorCode;
    this.status = status;
    this.tableauCode = tableauCode;
    this.tableauMessage = tableauMessage;
  }
}
