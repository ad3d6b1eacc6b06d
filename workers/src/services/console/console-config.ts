// The console's sign-in settings, read from the parsed Worker config when a console route needs them (a Worker
// without them keeps serving the API; the console answers 503). Production-like environments require an https
// issuer and a real client.
import { type Config, isProductionLike } from '../../env.ts'
import { ApiError } from '../../errors.ts'

export type OidcSettings = { issuer: URL; clientId: string; clientSecret: string; allowHttp: boolean }

export function oidcSettings(config: Config): OidcSettings {
  const { OIDC_ISSUER: issuer, OIDC_CLIENT_ID: clientId, OIDC_CLIENT_SECRET: clientSecret } = config
  if (!issuer || !clientId || !clientSecret)
    throw new ApiError('upstream_unavailable', 'Console sign-in is not configured (OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET).', {
      code: 'sign_in_not_configured',
    })
  const url = new URL(issuer)
  const productionLike = isProductionLike(config)
  if (productionLike && url.protocol !== 'https:')
    throw new ApiError('upstream_unavailable', 'OIDC_ISSUER must be an https URL in staging and production.', { code: 'sign_in_not_configured' })
  return { issuer: url, clientId, clientSecret, allowHttp: !productionLike }
}

export const isOperatorEmail = (config: Config, email: string) => config.OPERATOR_EMAILS.includes(email.toLowerCase())

/** Session lifetimes in ms. */
export const sessionLifetimes = (config: Config) => ({
  idleMs: config.CONSOLE_SESSION_IDLE_SECONDS * 1000,
  maxMs: config.CONSOLE_SESSION_MAX_SECONDS * 1000,
})
