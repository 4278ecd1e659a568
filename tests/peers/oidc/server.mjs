// A real OpenID Connect provider for anaspoc's integration tests: panva/oidc-provider (OpenID
// Certified), configured here and started by .ci/run on 127.0.0.1. It issues RS256 JWT access
// tokens (RFC 9068) for the resource `urn:anaspoc`, with the claims anaspoc maps to a Principal.
//
//   PORT=9090 node tests/peers/oidc/server.mjs
//
// Clients:
//   anaspoc-machine / machine-secret   client_credentials (an EUROPOL advisor service account)
//   anaspoc-web / web-secret           authorization_code + PKCE, loopback redirect on any port
// Accounts (devInteractions: any password): see ACCOUNTS below.
//
// The signing key is signing-key.pem next to this file (test-only), so the tests can forge
// tokens that differ from a real one in exactly one way. POST /__test/rotate makes the provider
// sign with a fresh key from then on (the old key stays published), to test key rotation.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider, { errors } from 'oidc-provider';

const here = path.dirname(fileURLToPath(import.meta.url));
const port = Number(process.env.PORT || 9090);
const issuer = `http://127.0.0.1:${port}`;
const RESOURCE = 'urn:anaspoc';
const OTHER_RESOURCE = 'urn:other-service';

const ACCOUNTS = {
  'analyst.rs': { name: 'Марко Николић', organisation: 'RS-MUP', country: 'RS', clearance: 'RESTRICTED', roles: ['analyst'] },
  'analyst.al': { name: 'Blerina Shehu', organisation: 'AL-ASP', country: 'AL', clearance: 'SENSITIVE', roles: ['analyst'] },
  'auditor': { name: 'Ana Kovač', organisation: 'ANASPOC-AUDIT', country: 'EU', clearance: 'RESTRICTED', roles: ['auditor'] },
  // A real token without the organisation claim: must be refused.
  'no-organisation': { name: 'Nobody', country: 'ME', clearance: 'SENSITIVE', roles: ['analyst'] },
};

const MACHINE_CLAIMS = {
  'anaspoc-machine': { name: 'EUROPOL analysis service', organisation: 'EUROPOL', country: 'EU', clearance: 'RESTRICTED', roles: ['advisor'] },
};

function jwkFromPem(pem, kid) {
  const jwk = crypto.createPrivateKey(pem).export({ format: 'jwk' });
  return { ...jwk, kid, use: 'sig', alg: 'RS256' };
}

const repoKey = jwkFromPem(fs.readFileSync(path.join(here, 'signing-key.pem')), 'anaspoc-test-1');

function configuration(keys) {
  return {
    clients: [
      {
        client_id: 'anaspoc-machine',
        client_secret: 'machine-secret',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      },
      {
        client_id: 'anaspoc-web',
        client_secret: 'web-secret',
        application_type: 'native', // loopback redirect URIs match on any port (RFC 8252)
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/auth/callback', 'http://127.0.0.1/callback'],
        post_logout_redirect_uris: ['http://127.0.0.1/'],
      },
    ],
    jwks: { keys },
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'api'],
    claims: { openid: ['sub'], profile: ['name'] },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator) => {
          if (indicator !== RESOURCE && indicator !== OTHER_RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: 'api',
            audience: indicator,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    findAccount: (ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: id, name: ACCOUNTS[id]?.name ?? id }),
    }),
    extraTokenClaims: (ctx, token) => {
      if (token.kind === 'ClientCredentials') return MACHINE_CLAIMS[token.clientId];
      return ACCOUNTS[token.accountId];
    },
    ttl: { AccessToken: 600, ClientCredentials: 600, Session: 3600, Interaction: 600, Grant: 3600 },
    cookies: { keys: ['anaspoc-test-cookie-key'] },
  };
}

let keys = [repoKey];
let provider = new Provider(issuer, configuration(keys));

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/__test/rotate') {
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const kid = `anaspoc-test-${Date.now()}`;
    const fresh = { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
    keys = [fresh, ...keys];
    provider = new Provider(issuer, configuration(keys));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kid }));
    return;
  }
  provider.callback()(req, res);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
