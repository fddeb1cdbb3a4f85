// A real OpenID Connect provider (the `oidc-provider` package) for the relying-party
// tests in ../main.rs. It listens on 127.0.0.1 on a free port and prints one JSON line
// on stdout: { issuer, kid, private_key_pem, foreign_key_pem } (the RSA key it signs
// with, so that the tests can make tokens that fail exactly one check, and a key it does
// not know), then serves until its stdin closes.
//
// Two test-only routes beside the provider's own:
//   GET  /test/jwks-fetches  how many times /jwks was fetched
//   POST /test/rotate        signs with a new key from now on (the old one stays in the
//                            JWKS); answers { kid, private_key_pem }
//
// Environment:
//   CLIENT_ID, CLIENT_SECRET, REDIRECT_URI  the one confidential client
//   CLAIMS_IN   "id_token" (default): profile, email and groups claims in the ID token,
//               and JWT access tokens for our client id that carry them too, as Authentik
//               does; "userinfo": claims only at the userinfo endpoint (the spec's
//               default when an access token is issued) and opaque access tokens.
//
// Sign-in uses oidc-provider's development interactions: any login name is accepted
// (with any password); the accounts below are the only ones with claims.

import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const clientId = process.env.CLIENT_ID || 'loyalty-test';
const clientSecret = process.env.CLIENT_SECRET || 'loyalty-test-secret';
const redirectUri = process.env.REDIRECT_URI || 'http://127.0.0.1:1/auth/callback';
const claimsIn = process.env.CLAIMS_IN || 'id_token';

const ACCOUNTS = {
  // Like Authentik's "hashed user id" subject mode: 64 hex digits.
  '5e982924df64d093d4828e8d7a5d3431660e81d84dbbd1f2c36dcca96c32917c': {
    email: 'alice@example.test',
    email_verified: false,
    name: 'Alice Example',
    preferred_username: 'alice',
    // GROUPS (comma-separated) replaces these, for tests of the web layer.
    groups: process.env.GROUPS
      ? process.env.GROUPS.split(',')
      : ['nextdoor-admins', 'pending-users', 'corner-shop-cashiers'],
  },
};

function newKey() {
  const kid = `test-${crypto.randomBytes(6).toString('hex')}`;
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    kid,
    jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' },
    pem: privateKey.export({ type: 'pkcs1', format: 'pem' }),
  };
}

// The provider signs with the first key; older ones stay published.
const keys = [newKey()];
const foreign = newKey();
const cookieKeys = [crypto.randomBytes(32).toString('hex')];

function makeProvider(issuer) {
  const features = { devInteractions: { enabled: true } };
  if (claimsIn === 'id_token') {
    features.resourceIndicators = {
      enabled: true,
      defaultResource: () => 'urn:loyalty:api',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: clientId,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    };
  }

  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    }],
    jwks: { keys: keys.map((k) => k.jwk) },
    cookies: { keys: cookieKeys },
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile', 'api'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'groups'],
    },
    conformIdTokenClaims: claimsIn === 'userinfo',
    enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
    features,
    extraTokenClaims: (ctx, token) => {
      if (token.kind !== 'AccessToken' || !ACCOUNTS[token.accountId]) return undefined;
      const { groups, email, name, preferred_username: username } = ACCOUNTS[token.accountId];
      return { groups, email, name, preferred_username: username, azp: clientId };
    },
    findAccount: (ctx, id) => {
      const account = ACCOUNTS[id];
      if (!account) return undefined;
      return { accountId: id, claims: () => ({ sub: id, ...account }) };
    },
    ttl: { AccessToken: 600, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  return provider.callback();
}

let jwksFetches = 0;
const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  // Sessions and codes live in oidc-provider's module-wide memory adapter, so they
  // survive the swap of the provider at a rotation.
  let handler = makeProvider(issuer);
  server.on('request', (req, res) => {
    if (req.method === 'GET' && req.url === '/test/jwks-fetches') {
      res.end(String(jwksFetches));
      return;
    }
    if (req.method === 'POST' && req.url === '/test/rotate') {
      const key = newKey();
      keys.unshift(key);
      handler = makeProvider(issuer);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ kid: key.kid, private_key_pem: key.pem }));
      return;
    }
    if (req.url.startsWith('/jwks')) jwksFetches += 1;
    handler(req, res);
  });
  const [current] = keys;
  process.stdout.write(`${JSON.stringify({
    issuer, kid: current.kid, private_key_pem: current.pem, foreign_key_pem: foreign.pem,
  })}\n`);
});

// Leave when the test process goes away (its end of stdin closes).
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
