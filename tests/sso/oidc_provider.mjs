// A real OpenID Connect provider for tests/sso: panva's oidc-provider (npm, package.json), on
// 127.0.0.1. Its development sign-in form takes any login (an email here) and any password; the
// claims of each login come from OIDC_USERS. Configuration comes from the environment:
//   OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (comma-separated),
//   OIDC_USERS: {"ana@staff.example": {"name": "Ana", "groups": ["support"]}, ...}
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const users = JSON.parse(process.env.OIDC_USERS || '{}');
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.OIDC_CLIENT_ID,
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: process.env.OIDC_REDIRECT_URIS.split(','),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'groups'],
  },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => false },
  async findAccount(_ctx, id) {
    const user = users[id] || {};
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: id,
          email_verified: true,
          preferred_username: id.split('@')[0],
          name: user.name || id,
          groups: user.groups || [],
        };
      },
    };
  },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
