// A TypeScript application using the packed package: compiled with `tsc --noEmit` by test/pack.test.js.
import {
  type EmbeddedView,
  type IssuedToken,
  TableauEmbedError,
  TokenBrokerError,
  createTokenClient,
  embedView,
  parseRetryAfter,
  viewUrl,
} from "tableau-token-broker-client";

declare function fetchAuthSession(): Promise<{ tokens?: { idToken?: { toString(): string } } }>;

const client = createTokenClient({
  endpoint: "https://api.example.com/token",
  getToken: async () => (await fetchAuthSession()).tokens?.idToken?.toString(),
  retry: { maxRetries: 3, maxTotalWaitMs: 15_000 },
  onRetry: ({ attempt, delayMs }) => void `${attempt} ${delayMs}`,
});

export async function show(container: HTMLElement, signal: AbortSignal): Promise<string> {
  const issued: IssuedToken = await client.fetchToken({ scopes: ["tableau:views:embed"], signal });
  const expires: Date = issued.expiresAt;
  const ms: number | null = parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT");
  try {
    const view: EmbeddedView = await embedView(container, {
      client,
      kind: "authoring",
      src: (target) => viewUrl(target, "Workbook/View"),
      attributes: { toolbar: "hidden", "hide-tabs": true, height: 600 },
      signal,
    });
    return `${view.kind} ${view.element.tagName} ${expires.toISOString()} ${ms}`;
  } catch (error) {
    if (error instanceof TokenBrokerError && error.kind === "not_entitled") return `no access (${error.status})`;
    if (error instanceof TableauEmbedError && error.kind === "auth_failed") return `refused ${error.tableauCode}`;
    throw error;
  }
}

// The types refuse what the package refuses.
// @ts-expect-error: "dashboard" is not a view kind
void embedView(document.body, { client, kind: "dashboard", src: "https://t.example/x" });
// @ts-expect-error: an endpoint is required
void createTokenClient({ getToken: () => "id-token" });
// @ts-expect-error: the kind of a token error is a closed set
const kind: TokenBrokerError["kind"] = "teapot";
void kind;
