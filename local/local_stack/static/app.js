// The local stack's demo page: Cognito sign-in -> POST /token (the broker) -> <tableau-viz>.
// Plain ES module, no build step. The token request and the embedded view go through the browser package
// (clients/browser, served from its source at /client/). Tokens are never logged or displayed whole: the page
// shows the decoded header and payload, never the signature.

import { TableauEmbedError, TokenBrokerError, createTokenClient, embedView, viewUrl } from "/client/index.js";

const $ = (id) => document.getElementById(id);

const ui = {
  status: $("status"),
  form: $("signin-form"),
  username: $("username"),
  password: $("password"),
  signIn: $("sign-in"),
  signOut: $("sign-out"),
  signinError: $("signin-error"),
  demoUsers: $("demo-users"),
  tokenPlaceholder: $("token-placeholder"),
  tokenError: $("token-error"),
  tokenDetails: $("token-details"),
  signedInAs: $("signed-in-as"),
  expiry: $("expiry"),
  scopes: $("scopes"),
  tableauTarget: $("tableau-target"),
  claimsHeader: $("claims-header"),
  claimsPayload: $("claims-payload"),
  tamper: $("tamper"),
  vizError: $("viz-error"),
  vizContainer: $("viz-container"),
};

let config = null;
let embeddingLibrary = null; // the import() promise: the library is loaded once
// One sign-in "session" of the page. `generation` lets late answers of a previous session be ignored.
const session = { generation: 0, username: null, idToken: null, client: null, controller: null, expiryTimer: null };

// --- small helpers -------------------------------------------------------------------------------------

function setStatus(text, kind = "info") {
  ui.status.textContent = text;
  ui.status.dataset.kind = kind;
}

function showError(element, text) {
  element.textContent = text;
  element.hidden = !text;
}

async function readJson(response) {
  const text = await response.text();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 200) };
  }
}

function base64UrlDecode(part) {
  const base64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The JSON header and payload of a compact JWS. The signature (part 3) is deliberately not touched. */
function decodeJwt(token) {
  const [header, payload] = token.split(".");
  return { header: JSON.parse(base64UrlDecode(header)), payload: JSON.parse(base64UrlDecode(payload)) };
}

/** A copy of the token whose signature has one character changed (the first: every bit of it counts). */
function tamperedCopy(token) {
  const [header, payload, signature] = token.split(".");
  const swapped = signature[0] === "A" ? "B" : "A";
  return `${header}.${payload}.${swapped}${signature.slice(1)}`;
}

// --- configuration and demo users ------------------------------------------------------------------------

async function loadConfig() {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    config = await response.json();
  } catch (error) {
    setStatus(`Could not load config.json (${error.message}). Is the local stack running?`, "error");
    return;
  }
  renderDemoUsers(config.demoUsers || []);
  ui.signIn.disabled = false;
  setStatus("Ready. Pick a demo user or type an email and password.");
}

function renderDemoUsers(users) {
  ui.demoUsers.replaceChildren(
    ...users.map((user) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "demo-user";
      button.dataset.demoUser = user.username;
      const tenant = user.tenant ? `tenant ${user.tenant}` : "no tenant";
      const entitled = user.entitled ? "entitled" : "not entitled";
      button.setAttribute("aria-label", `Fill the form with ${user.username} (${tenant}, ${entitled})`);

      const name = document.createElement("span");
      name.className = "demo-user-name";
      name.textContent = user.username;
      const tags = document.createElement("span");
      tags.className = "tags";
      tags.append(tag(tenant, user.tenant ? "tenant" : "muted"), tag(entitled, user.entitled ? "ok" : "warn"));
      button.append(name, tags);
      button.addEventListener("click", () => {
        ui.username.value = user.username;
        ui.password.value = user.password;
        showError(ui.signinError, "");
        ui.signIn.focus();
      });

      const item = document.createElement("li");
      item.append(button);
      return item;
    }),
  );
}

function tag(text, kind) {
  const element = document.createElement("span");
  element.className = `tag ${kind}`;
  element.textContent = text;
  return element;
}

// --- 1. Cognito sign-in (what a SPA's Cognito SDK does) ------------------------------------------------------

class SignInError extends Error {}

async function cognitoSignIn(username, password) {
  let response;
  try {
    response = await fetch(config.cognito.endpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
      },
      body: JSON.stringify({
        AuthFlow: "USER_PASSWORD_AUTH",
        ClientId: config.cognito.clientId,
        AuthParameters: { USERNAME: username, PASSWORD: password },
      }),
    });
  } catch (error) {
    throw new SignInError(`Cognito is unreachable (${error.message}).`);
  }
  const body = await readJson(response);
  if (!response.ok) {
    const type = String(body.__type || `HTTP ${response.status}`).split("#").pop();
    throw new SignInError(`${type}: ${body.message || body.Message || "sign-in failed"}`);
  }
  if (body.ChallengeName) throw new SignInError(`Cognito asks for ${body.ChallengeName}, which this demo does not handle.`);
  const idToken = body.AuthenticationResult && body.AuthenticationResult.IdToken;
  if (!idToken) throw new SignInError("Cognito returned no ID token.");
  return idToken;
}

async function onSignIn(event) {
  event.preventDefault();
  const username = ui.username.value.trim();
  const password = ui.password.value;
  if (!username || !password) {
    showError(ui.signinError, "Enter an email and a password.");
    return;
  }
  resetSession();
  const generation = session.generation;
  ui.signIn.disabled = true;
  setStatus(`Signing in ${username} with Cognito…`);
  try {
    const idToken = await cognitoSignIn(username, password);
    if (generation !== session.generation) return;
    session.username = username;
    session.idToken = idToken;
    session.client = tokenClient();
    ui.password.value = "";
    ui.signOut.disabled = false;
    await loadView({ tampered: false });
  } catch (error) {
    if (generation !== session.generation) return;
    if (error instanceof SignInError) {
      showError(ui.signinError, `Sign-in failed. ${error.message}`);
      setStatus("Sign-in failed.", "error");
    } else {
      setStatus(`Unexpected error: ${error.message}`, "error");
    }
  } finally {
    ui.signIn.disabled = false;
  }
}

// --- 2 and 3. The token and the embedded view, through the browser package -------------------------------

function tokenClient() {
  return createTokenClient({
    endpoint: config.apiUrl,
    getToken: async () => session.idToken,
    onRetry: ({ status, delayMs, attempt }) =>
      setStatus(`The broker answered ${status}; retry ${attempt} in ${delayMs / 1000} s…`, "warn"),
  });
}

function loadEmbeddingLibrary() {
  if (!embeddingLibrary) {
    embeddingLibrary = import(config.tableau.embeddingScript).then(() => customElements.whenDefined("tableau-viz"));
    embeddingLibrary.catch(() => {
      embeddingLibrary = null; // allow a retry
    });
  }
  return embeddingLibrary;
}

/** Fetch a token and embed the view. `tampered`: every token the view gets has one signature character changed. */
async function loadView({ tampered }) {
  const generation = session.generation;
  showError(ui.vizError, "");
  try {
    await loadEmbeddingLibrary();
  } catch {
    if (generation !== session.generation) return;
    showError(ui.vizError, `Could not load the Tableau Embedding API from ${config.tableau.embeddingScript}.`);
    setStatus("The embedding library did not load.", "error");
    return;
  }
  if (generation !== session.generation) return;
  // The page shows each token the view gets (decoded, without its signature): a TokenSource around the client.
  const shownTokens = {
    fetchToken: async (options) => {
      const issued = await session.client.fetchToken(options);
      if (generation === session.generation) showToken(issued);
      return tampered ? { ...issued, token: tamperedCopy(issued.token) } : issued;
    },
  };
  setStatus(
    tampered
      ? "Loading the view with tampered tokens (one signature character changed)…"
      : "Signed in. Asking the broker for a Tableau token…",
  );
  try {
    const view = await embedView(ui.vizContainer, {
      client: shownTokens,
      kind: "viz",
      src: (target) => viewUrl(target, `${config.tableau.workbook}/${config.tableau.view}`),
      attributes: { id: "viz", "data-tampered": String(tampered), toolbar: "hidden", width: "100%", height: "460px" },
      signal: session.controller.signal,
    });
    view.element.addEventListener("firstinteractive", () => setStatus("The view is interactive."));
    ui.tamper.disabled = false;
    setStatus("Token issued. The embedded view redeemed it to sign in to Tableau.");
  } catch (error) {
    if (generation !== session.generation) return;
    if (error instanceof TokenBrokerError) showTokenError(error);
    else if (error instanceof TableauEmbedError) showVizError(error);
    else setStatus(`Unexpected error: ${error.message}`, "error");
  }
}

/** The error's type, kind, status and code, for people (text) and for tests (data attributes). */
function describeError(element, error) {
  Object.assign(element.dataset, {
    errorName: error.name,
    errorKind: error.kind,
    errorStatus: String(error.status ?? ""),
    errorCode: String(error.code ?? error.errorCode ?? ""),
  });
}

function showTokenError(error) {
  ui.tokenPlaceholder.hidden = true;
  ui.tokenDetails.hidden = true;
  clearViz();
  const status = error.status === null ? "" : `${error.status} `;
  showError(ui.tokenError, `No token. ${status}${error.code}: ${error.message}`);
  describeError(ui.tokenError, error);
  setStatus(
    error.kind === "unavailable"
      ? "The broker is unavailable; the retries allowed were used. Try again later."
      : "The broker refused to issue a token.",
    "error",
  );
}

function showVizError(error) {
  const said = error.tableauMessage ? ` Tableau says: ${error.tableauMessage}` : "";
  showError(ui.vizError, `${error.errorCode}: ${error.message}${said}`);
  describeError(ui.vizError, error);
  ui.vizError.dataset.tableauCode = error.tableauCode ?? "";
  setStatus(error.kind === "auth_failed" ? "Tableau refused the token." : "The view did not load.", "error");
}

function showToken(issued) {
  const { header, payload } = decodeJwt(issued.token);
  ui.tokenPlaceholder.hidden = true;
  showError(ui.tokenError, "");
  ui.signedInAs.textContent = session.username;
  ui.scopes.textContent = issued.scopes.join(", ");
  ui.tableauTarget.textContent = `${issued.tableauUrl} · site ${issued.site}`;
  ui.claimsHeader.textContent = JSON.stringify(header, null, 2);
  ui.claimsPayload.textContent = JSON.stringify(payload, null, 2);
  ui.tokenDetails.hidden = false;
  const expiresAt = issued.expiresAt.getTime();
  const shownAt = issued.expiresAt.toISOString().replace(/\.\d{3}Z$/, "Z"); // the broker's own format
  const tick = () => {
    const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
    const when = left > 0 ? `in ${Math.floor(left / 60)} min ${left % 60} s` : "expired";
    ui.expiry.textContent = `${shownAt} (${when})`;
    if (left === 0) clearInterval(session.expiryTimer);
  };
  clearInterval(session.expiryTimer);
  tick();
  session.expiryTimer = setInterval(tick, 1000);
}

function clearViz() {
  ui.vizContainer.replaceChildren();
  showError(ui.vizError, "");
  ui.tamper.disabled = true;
}

function onTamper() {
  if (!session.client) return;
  loadView({ tampered: true });
}

// --- sign-out -------------------------------------------------------------------------------------------

function resetSession() {
  session.generation += 1;
  clearInterval(session.expiryTimer);
  session.controller?.abort(); // cancels a token request, a Retry-After wait or a sign-in still running
  Object.assign(session, {
    username: null,
    idToken: null,
    client: null,
    controller: new AbortController(),
    expiryTimer: null,
  });
  for (const element of [ui.signinError, ui.tokenError]) showError(element, "");
  for (const element of [ui.tokenError, ui.vizError]) {
    for (const key of Object.keys(element.dataset)) delete element.dataset[key];
  }
  ui.tokenDetails.hidden = true;
  ui.tokenPlaceholder.hidden = false;
  for (const element of [ui.claimsHeader, ui.claimsPayload, ui.expiry, ui.scopes, ui.signedInAs, ui.tableauTarget]) {
    element.textContent = "";
  }
  clearViz();
  ui.signOut.disabled = true;
}

function onSignOut() {
  resetSession();
  ui.form.reset();
  ui.username.focus();
  setStatus("Signed out. Tokens were dropped from the page.");
}

ui.form.addEventListener("submit", onSignIn);
ui.signOut.addEventListener("click", onSignOut);
ui.tamper.addEventListener("click", onTamper);
loadConfig();
