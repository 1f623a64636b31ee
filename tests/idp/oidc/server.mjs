// A real OpenID Provider for the SSO tests: node-oidc-provider (OpenID certified) on loopback.
// Usage: node server.mjs '<json config>'  with {"port": 0, "clients": [...], "accounts": {...}}
// It prints {"issuer": "..."} on stdout once listening. Sign-in goes through the provider's own
// development login form (any known account id), then the consent step, as a browser would.
import Provider from "oidc-provider";

const config = JSON.parse(process.argv[2] || "{}");
const accounts = config.accounts || {};
const host = "127.0.0.1";

const server = (await import("node:http")).createServer();
await new Promise((resolve) => server.listen(config.port || 0, host, resolve));
const issuer = `http://${host}:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: config.clients || [],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"], groups: ["groups"] },
  scopes: ["openid", "email", "profile", "groups"],
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => false },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email_verified: true, ...account };
      },
    };
  },
  // Each test starts its own provider and browser session, so nothing is remembered across tests.
  ttl: { Session: 600, Grant: 600, Interaction: 600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
});
provider.proxy = false;
// A connection created in a browser test gets a random id, hence a callback URL nobody knows in
// advance: such a test registers a prefix (its live server) instead of exact redirect URIs.
if (config.redirect_uri_prefix) {
  provider.Client.prototype.redirectUriAllowed = function allowed(uri) {
    return uri.startsWith(config.redirect_uri_prefix);
  };
}
server.on("request", provider.callback());
process.stdout.write(JSON.stringify({ issuer }) + "\n");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
