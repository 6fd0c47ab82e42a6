// Types of tableau-token-broker-client (hand-written; the source is plain ES modules).

/** What to do about a failed token request. */
export type TokenErrorKind =
  | "unauthenticated" // 401, or no identity token: sign in again
  | "not_entitled" // 403 not_entitled: the user has no Tableau access
  | "scope_not_allowed" // 403 scope_not_allowed: the scope asked for is not allowed for this user
  | "forbidden" // 403 without a broker error code
  | "invalid_request" // 400 / 405: a bug in the caller
  | "unavailable" // 503 (or 429) after the bounded retries: try later
  | "server_error" // 500: configuration_error or internal_error
  | "network" // the broker could not be reached
  | "aborted" // the AbortSignal fired
  | "invalid_response"; // a 2xx that is not a token response

/** The broker's stable error codes (README "The HTTP contract") plus this client's own. */
export type TokenErrorCode =
  | "invalid_request"
  | "unauthenticated"
  | "not_entitled"
  | "scope_not_allowed"
  | "method_not_allowed"
  | "dependency_unavailable"
  | "configuration_error"
  | "internal_error"
  | "no_identity_token"
  | "network_error"
  | "aborted"
  | "invalid_response"
  | `http_${number}`;

export class TokenBrokerError extends Error {
  readonly name: "TokenBrokerError";
  readonly kind: TokenErrorKind;
  /** The broker's HTTP status; null when no answer was received. */
  readonly status: number | null;
  readonly code: TokenErrorCode | null;
  /** What the last answer's Retry-After asked for, in milliseconds (null: none). */
  readonly retryAfterMs: number | null;
  /** True for "unavailable" and "network": asking again later may succeed. */
  readonly retryable: boolean;
  constructor(
    kind: TokenErrorKind,
    message: string,
    details?: { status?: number | null; code?: TokenErrorCode | null; retryAfterMs?: number | null; cause?: unknown },
  );
}

export type EmbedErrorKind = "auth_failed" | "load_failed" | "aborted";

export class TableauEmbedError extends Error {
  readonly name: "TableauEmbedError";
  readonly kind: EmbedErrorKind;
  /** The Embedding API's error code (e.g. "auth-failed"), or "aborted". */
  readonly errorCode: string | null;
  /** The HTTP status of Tableau's sign-in answer, when the library reported one. */
  readonly status: number | null;
  /** Tableau's own error code (e.g. "16", "10084"), when its answer carried one. */
  readonly tableauCode: string | null;
  readonly tableauMessage: string | null;
  constructor(
    kind: EmbedErrorKind,
    message: string,
    details?: {
      errorCode?: string | null;
      status?: number | null;
      tableauCode?: string | null;
      tableauMessage?: string | null;
      cause?: unknown;
    },
  );
}

/** Where the issued token can be redeemed. */
export interface TableauTarget {
  readonly tableauUrl: string;
  /** The site's content URL ("" is the Default site). */
  readonly site: string;
}

/** A Tableau connected-app token as the broker issued it. Use it for one load; never store or log it. */
export interface IssuedToken extends TableauTarget {
  readonly token: string;
  readonly tokenType: string;
  readonly expiresAt: Date;
  /** Seconds from issue to expiry. */
  readonly expiresIn: number;
  readonly scopes: readonly string[];
}

export interface RetryOptions {
  /** Retries after a 503/429 or a network failure (default 2). */
  maxRetries?: number;
  /** No retry whose wait would bring the total past this (default 10 000 ms). */
  maxTotalWaitMs?: number;
  /** The wait when the answer has no usable Retry-After (default 1 000 ms). */
  fallbackDelayMs?: number;
}

export declare const DEFAULT_RETRY: Readonly<Required<RetryOptions>>;

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  kind: TokenErrorKind;
  status: number | null;
  code: TokenErrorCode | null;
}

export interface TokenClientOptions {
  /** The broker's POST /token URL. */
  endpoint: string | URL;
  /** The caller's current Cognito ID or access token; called before every request. */
  getToken: (context: { signal?: AbortSignal }) => Promise<string | null | undefined> | string | null | undefined;
  /** Scopes to ask for when fetchToken() names none (default: the broker's DefaultScopes). */
  scopes?: readonly string[];
  retry?: RetryOptions;
  /** Told before each wait, e.g. to show "retrying in 2 s". */
  onRetry?: (info: RetryInfo) => void;
  fetch?: typeof globalThis.fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

export interface FetchTokenOptions {
  scopes?: readonly string[];
  signal?: AbortSignal;
}

/** Anything that hands out tokens: a TokenClient, or your own wrapper around one. */
export interface TokenSource {
  fetchToken(options?: FetchTokenOptions): Promise<IssuedToken>;
}

export interface TokenClient extends TokenSource {}

export function createTokenClient(options: TokenClientOptions): TokenClient;

/** Milliseconds a Retry-After value (seconds or HTTP-date) asks for; null when absent or unparsable. */
export function parseRetryAfter(value: string | null | undefined, now?: number): number | null;

export type ViewKind = "viz" | "authoring" | "pulse";

export declare const VIEW_KINDS: Readonly<
  Record<ViewKind, Readonly<{ tag: "tableau-viz" | "tableau-authoring-viz" | "tableau-pulse"; scopes: readonly string[] }>>
>;

export declare const LOAD_ERROR_EVENT: "vizloaderror";
export declare const SIGNED_IN_EVENT: "iframesrcupdated";
export declare const AUTH_FAILED: "auth-failed";

export interface EmbedOptions {
  client: TokenSource;
  /** viz: <tableau-viz>, authoring: <tableau-authoring-viz>, pulse: <tableau-pulse> (default "viz"). */
  kind?: ViewKind;
  /** The view's URL, or a function building it from where the token is valid (see viewUrl). */
  src: string | ((target: TableauTarget) => string);
  /** Extra attributes of the web component (toolbar, width, height, …); true sets an empty attribute. */
  attributes?: Readonly<Record<string, string | number | boolean | null | undefined>>;
  /** Default: the kind's embed scope. */
  scopes?: readonly string[];
  signal?: AbortSignal;
}

export interface EmbeddedView {
  readonly element: HTMLElement;
  readonly kind: ViewKind;
}

/**
 * Fetch a token, create the web component in `container` and resolve once Tableau accepted the sign-in.
 * Rejects with TokenBrokerError (no element is created) or TableauEmbedError.
 */
export function embedView(container: Element, options: EmbedOptions): Promise<EmbeddedView>;

/** `${tableauUrl}/t/${site}/views/${path}`, e.g. viewUrl(target, "Workbook/View"). */
export function viewUrl(target: TableauTarget, path: string): string;
