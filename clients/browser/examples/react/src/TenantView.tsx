// A Tableau view in React: @tableau/embedding-api-react renders <tableau-viz>, tableau-token-broker-client gets a
// fresh token for each load and maps the broker's errors; a refused token (auth-failed) is replaced once.
import { TableauViz } from "@tableau/embedding-api-react";
import { useCallback, useEffect, useRef, useState } from "react";
import {
  AUTH_FAILED,
  type IssuedToken,
  TokenBrokerError,
  type TokenSource,
  viewUrl,
} from "tableau-token-broker-client";

type Load = { state: "loading" } | { state: "ready"; issued: IssuedToken } | { state: "failed"; message: string };

export function TenantView({ client, view }: { client: TokenSource; view: string }) {
  const [load, setLoad] = useState<Load>({ state: "loading" });
  const replaced = useRef(false); // one new token per refusal, not a loop

  const fetchToken = useCallback(
    async (signal?: AbortSignal) => {
      try {
        setLoad({ state: "ready", issued: await client.fetchToken({ scopes: ["tableau:views:embed"], signal }) });
      } catch (error) {
        if (error instanceof TokenBrokerError && error.kind === "aborted") return;
        const message =
          error instanceof TokenBrokerError && error.kind === "not_entitled"
            ? "Your account has no access to these dashboards."
            : `No Tableau token (${error instanceof TokenBrokerError ? error.code : "error"}).`;
        setLoad({ state: "failed", message });
      }
    },
    [client],
  );

  useEffect(() => {
    const controller = new AbortController();
    replaced.current = false;
    void fetchToken(controller.signal);
    return () => controller.abort();
  }, [fetchToken]);

  if (load.state === "loading") return <p>Loading…</p>;
  if (load.state === "failed") return <p role="alert">{load.message}</p>;
  return (
    <TableauViz
      src={viewUrl(load.issued, view)}
      token={load.issued.token}
      toolbar="hidden"
      onvizloaderror={(event) => {
        if (event.detail.errorCode === AUTH_FAILED && !replaced.current) {
          replaced.current = true;
          void fetchToken();
        } else {
          setLoad({ state: "failed", message: `Tableau did not load the view (${event.detail.errorCode}).` });
        }
      }}
    />
  );
}
