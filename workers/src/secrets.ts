// The Worker's secrets: one list. env.ts refuses placeholder values of each in production-like environments;
// scripts/deploy refuses to deploy an environment while a secret required there is unset (`wrangler secret list`).
// No Worker types here: the deploy script (Node) imports this module too.

export type DeployedEnvironment = 'staging' | 'production'
const DEPLOYED: readonly DeployedEnvironment[] = ['staging', 'production']

/** Each secret, and the deployed environments `npm run deploy` requires it in (`wrangler secret put NAME --env X`). */
export const SECRETS = [
  { name: 'ADMIN_TOKEN', requiredIn: DEPLOYED },
  { name: 'SECRETS_KEY', requiredIn: DEPLOYED },
  { name: 'RUNNER_TOKEN', requiredIn: DEPLOYED },
  { name: 'METRICS_TOKEN', requiredIn: DEPLOYED },
  { name: 'STRIPE_SECRET_KEY', requiredIn: DEPLOYED },
  { name: 'STRIPE_WEBHOOK_SECRET', requiredIn: DEPLOYED },
  // The console's OAuth client at the OIDC issuer (Google Cloud console, "OAuth client ID", type Web application).
  { name: 'OIDC_CLIENT_ID', requiredIn: DEPLOYED },
  { name: 'OIDC_CLIENT_SECRET', requiredIn: DEPLOYED },
  // Cloudflare Access service token of the gateway: sent to launched nodes (platform/node-access.ts).
  { name: 'CF_ACCESS_CLIENT_ID', requiredIn: DEPLOYED },
  { name: 'CF_ACCESS_CLIENT_SECRET', requiredIn: DEPLOYED },
] as const satisfies readonly { name: string; requiredIn: readonly DeployedEnvironment[] }[]

/** Secret names whose value must not be a development placeholder in a production-like environment. */
export const SECRET_NAMES: readonly string[] = SECRETS.map((secret) => secret.name)

/** The secrets `npm run deploy -- --env <environment>` requires to be set. */
export const requiredSecretNames = (environment: DeployedEnvironment): string[] =>
  SECRETS.filter((secret) => secret.requiredIn.includes(environment)).map((secret) => secret.name)
