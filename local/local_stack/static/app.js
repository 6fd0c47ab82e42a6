// The local stack's demo page: Cognito sign-in -> POST /token (the broker) -> <tableau-viz>.
// Plain ES module, no build step, no dependencies. Tokens are kept in memory only and are never logged
// or displayed whole: the page shows the decoded header and payload, never the signature.

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
const session = { generation: 0, username: null, idToken: null, issued: null, expiryTimer: null };

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
    ui.password.value = "";
    ui.signOut.disabled = false;
    await requestToken(generation);
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

// --- 2. The broker: POST /token ------------------------------------------------------------------------

async function requestToken(generation) {
  setStatus("Signed in. Asking the broker for a Tableau token…");
  let response;
  let body;
  try {
    response = await fetch(config.apiUrl, {
      method: "POST",
      headers: { Authorization: `Bearer ${session.idToken}`, "Content-Type": "application/json" },
      body: "{}",
    });
    body = await readJson(response);
  } catch (error) {
    if (generation !== session.generation) return;
    showTokenError(`The broker is unreachable (${error.message}).`);
    return;
  }
  if (generation !== session.generation) return;
  if (!response.ok || !body.token) {
    const code = (body.error && body.error.code) || "error";
    const message = (body.error && body.error.message) || body.message || response.statusText;
    showTokenError(`${response.status} ${code}: ${message}`);
    return;
  }
  session.issued = body;
  showToken(body);
  await renderViz(body.token, { tampered: false });
}

function showTokenError(text) {
  ui.tokenPlaceholder.hidden = true;
  ui.tokenDetails.hidden = true;
  showError(ui.tokenError, `No token. ${text}`);
  clearViz();
  setStatus("The broker refused to issue a token.", "error");
}

function showToken(issued) {
  const { header, payload } = decodeJwt(issued.token);
  ui.tokenPlaceholder.hidden = true;
  showError(ui.tokenError, "");
  ui.signedInAs.textContent = session.username;
  ui.scopes.textContent = (issued.scopes || []).join(", ");
  ui.tableauTarget.textContent = `${issued.tableau.url} · site ${issued.tableau.site}`;
  ui.claimsHeader.textContent = JSON.stringify(header, null, 2);
  ui.claimsPayload.textContent = JSON.stringify(payload, null, 2);
  ui.tokenDetails.hidden = false;
  const expiresAt = Date.now() + issued.expires_in * 1000;
  const tick = () => {
    const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
    const when = left > 0 ? `in ${Math.floor(left / 60)} min ${left % 60} s` : "expired";
    ui.expiry.textContent = `${issued.expires_at} (${when})`;
    if (left === 0) clearInterval(session.expiryTimer);
  };
  clearInterval(session.expiryTimer);
  tick();
  session.expiryTimer = setInterval(tick, 1000);
}

// --- 3. The embedded view -------------------------------------------------------------------------------

function loadEmbeddingLibrary() {
  if (!embeddingLibrary) {
    embeddingLibrary = import(config.tableau.embeddingScript).then(() => customElements.whenDefined("tableau-viz"));
    embeddingLibrary.catch(() => {
      embeddingLibrary = null; // allow a retry
    });
  }
  return embeddingLibrary;
}

function viewUrl(tableau) {
  const base = tableau.url.replace(/\/+$/, "");
  const path = [config.tableau.workbook, config.tableau.view].map(encodeURIComponent).join("/");
  return `${base}/t/${encodeURIComponent(tableau.site)}/views/${path}`;
}

async function renderViz(token, { tampered }) {
  const generation = session.generation;
  showError(ui.vizError, "");
  try {
    await loadEmbeddingLibrary();
  } catch (error) {
    if (generation !== session.generation) return;
    showError(ui.vizError, `Could not load the Tableau Embedding API from ${config.tableau.embeddingScript}.`);
    setStatus("The embedding library did not load.", "error");
    return;
  }
  if (generation !== session.generation) return;
  const viz = document.createElement("tableau-viz");
  viz.id = "viz";
  viz.dataset.tampered = String(tampered);
  viz.setAttribute("src", viewUrl(session.issued.tableau));
  viz.setAttribute("token", token);
  viz.setAttribute("toolbar", "hidden");
  viz.setAttribute("width", "100%");
  viz.setAttribute("height", "460px");
  viz.addEventListener("vizloaderror", onVizLoadError);
  viz.addEventListener("firstinteractive", () => setStatus("The view is interactive."));
  ui.vizContainer.replaceChildren(viz); // replaces any previous viz
  ui.tamper.disabled = false;
  setStatus(
    tampered
      ? "Loading the view with a tampered token (one signature character changed)…"
      : "Token issued. The embedded view redeems it to sign in to Tableau.",
  );
}

function onVizLoadError(event) {
  const detail = event.detail || {};
  const errorCode = detail.errorCode || "unknown-error";
  let text = `${errorCode}: the view could not be loaded.`;
  try {
    // The library passes {"statusCode": ..., "errorMessage": "<Tableau's response body>"}.
    const { statusCode, errorMessage } = JSON.parse(detail.message);
    let reason = errorMessage;
    try {
      const first = JSON.parse(errorMessage).result.errors[0];
      reason = `Tableau error ${first.code}${first.message ? `: ${first.message}` : ""}`;
    } catch {
      // not Tableau's JSON error shape: show the text as it is
    }
    text = `${errorCode}: Tableau refused the sign-in (HTTP ${statusCode}). ${reason}`;
  } catch {
    if (detail.message) text = `${errorCode}: ${String(detail.message).slice(0, 300)}`;
  }
  showError(ui.vizError, text);
  setStatus("Tableau refused the token.", "error");
}

function clearViz() {
  ui.vizContainer.replaceChildren();
  showError(ui.vizError, "");
  ui.tamper.disabled = true;
}

function onTamper() {
  if (!session.issued) return;
  renderViz(tamperedCopy(session.issued.token), { tampered: true });
}

// --- sign-out -------------------------------------------------------------------------------------------

function resetSession() {
  session.generation += 1;
  clearInterval(session.expiryTimer);
  Object.assign(session, { username: null, idToken: null, issued: null, expiryTimer: null });
  for (const element of [ui.signinError, ui.tokenError]) showError(element, "");
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
