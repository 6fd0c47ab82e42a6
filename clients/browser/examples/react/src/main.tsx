// Wiring: Amplify (or any Cognito SDK) supplies the user's ID token; the broker's URL comes from your config.
import { fetchAuthSession } from "aws-amplify/auth";
import { createRoot } from "react-dom/client";
import { createTokenClient } from "tableau-token-broker-client";

import { TenantView } from "./TenantView";

const client = createTokenClient({
  endpoint: import.meta.env.VITE_TOKEN_BROKER_URL,
  getToken: async () => (await fetchAuthSession()).tokens?.idToken?.toString(),
});

const root = document.getElementById("root");
if (root) createRoot(root).render(<TenantView client={client} view="TenantSales/Orders" />);
