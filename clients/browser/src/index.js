// tableau-token-broker-client: a Tableau connected-app token for the signed-in user, and Tableau views embedded
// with a fresh token per load. No dependencies; load @tableau/embedding-api yourself (from your Tableau server).
export { TableauEmbedError, TokenBrokerError } from "./errors.js";
export { AUTH_FAILED, LOAD_ERROR_EVENT, SIGNED_IN_EVENT, VIEW_KINDS, embedView, viewUrl } from "./embed.js";
export { parseRetryAfter } from "./retry-after.js";
export { DEFAULT_RETRY, createTokenClient } from "./token-client.js";
