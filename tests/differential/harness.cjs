// Reference verdicts from AWS's own Cognito verifier, aws-jwt-verify.
//
// stdin:  {"jwks": {...}, "cases": [{"token": "...", "config": {...}, "now": <epoch seconds>}, ...]}
// stdout: [{"valid": true, "sub": ..., "token_use": ..., "client_id": ..., "username": ...}
//          | {"valid": false, "error": "<aws-jwt-verify error class>"}, ...]   (same order as the cases)
//
// One process verifies the whole corpus. The JWKS is handed to each verifier with cacheJwks() and tokens are
// checked with verifySync(), which never fetches: this process makes no network call at all.
"use strict";

const { readFileSync } = require("node:fs");
const { CognitoJwtVerifier } = require("aws-jwt-verify");

const verifiers = new Map();

function verifierFor(config, jwks) {
  const key = JSON.stringify(config);
  let verifier = verifiers.get(key);
  if (verifier === undefined) {
    verifier = CognitoJwtVerifier.create({
      userPoolId: config.userPoolId,
      tokenUse: config.tokenUse, // "id", "access" or null (either)
      clientId: config.clientId, // list of accepted app client ids
      graceSeconds: config.graceSeconds, // the broker's COGNITO_CLOCK_TOLERANCE_SECONDS
    });
    verifier.cacheJwks(jwks);
    verifiers.set(key, verifier);
  }
  return verifier;
}

// aws-jwt-verify reads the clock with Date.now(). Each case carries the instant at which the broker judged it,
// so both verifiers judge the same token at the same instant however long the corpus takes to run.
const realNow = Date.now;

function verdict(item, jwks) {
  const verifier = verifierFor(item.config, jwks);
  Date.now = () => item.now * 1000;
  try {
    const payload = verifier.verifySync(item.token);
    const tokenUse = payload.token_use;
    return {
      valid: true,
      sub: payload.sub ?? null,
      token_use: tokenUse,
      client_id: tokenUse === "id" ? payload.aud : payload.client_id,
      username: (tokenUse === "id" ? payload["cognito:username"] : payload.username) ?? null,
    };
  } catch (err) {
    return { valid: false, error: err && err.constructor ? err.constructor.name : String(err) };
  } finally {
    Date.now = realNow;
  }
}

const input = JSON.parse(readFileSync(0, "utf8"));
const verdicts = input.cases.map((item) => verdict(item, input.jwks));
process.stdout.write(JSON.stringify(verdicts));
