// OpenID Connect sign-in through oauth4webapi (no hand-written OAuth or JWT code): authorization code with PKCE
// (S256), state and nonce; the ID token's issuer, audience, expiry and nonce are checked by
// processAuthorizationCodeResponse and its signature against the issuer's JWKS by validateApplicationLevelSignature.
// The same code path runs against Google (https://accounts.google.com) and the local stand-in (scripts/oidc-standin).
import * as oauth from 'oauth4webapi'
import { ApiError } from '../../errors.ts'
import { log } from '../../log.ts'
import type { OidcSettings } from './console-config.ts'

/** Discovery documents per issuer, per isolate, for an hour (Google's keys rotate; the JWKS is cached by oauth4webapi). */
const DISCOVERY_TTL_MS = 3_600_000
const discovered = new Map<string, { as: oauth.AuthorizationServer; at: number }>()
/** JWKS cache per issuer (oauth4webapi's jwksCache: its keys are re-fetched when an unknown kid shows up). */
const jwksCaches = new Map<string, oauth.JWKSCacheInput>()

const httpOptions = (s: OidcSettings) => (s.allowHttp ? { [oauth.allowInsecureRequests]: true } : {})

async function authorizationServer(s: OidcSettings): Promise<oauth.AuthorizationServer> {
  const cached = discovered.get(s.issuer.href)
  if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.as
  try {
    const response = await oauth.discoveryRequest(s.issuer, { algorithm: 'oidc', ...httpOptions(s), signal: AbortSignal.timeout(10_000) })
    const as = await oauth.processDiscoveryResponse(s.issuer, response)
    discovered.set(s.issuer.href, { as, at: Date.now() })
    return as
  } catch (err) {
    log.error('oidc_discovery_failed', { issuer: s.issuer.href, error: String(err) })
    throw new ApiError('upstream_unavailable', 'The sign-in provider cannot be reached; try again shortly.', { code: 'sign_in_unavailable' })
  }
}

export type SignInStart = { authorizationUrl: URL; state: string; nonce: string; codeVerifier: string }

/** The authorization request: where to send the browser, and the secrets to keep until the callback. */
export async function startSignIn(s: OidcSettings, redirectUri: string): Promise<SignInStart> {
  const as = await authorizationServer(s)
  if (!as.authorization_endpoint)
    throw new ApiError('upstream_unavailable', 'The sign-in provider has no authorization endpoint.', { code: 'sign_in_unavailable' })
  const codeVerifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const url = new URL(as.authorization_endpoint)
  url.searchParams.set('client_id', s.clientId)
  url.searchParams.set('redirect_uri', redirectUri)
  url.searchParams.set('response_type', 'code')
  url.searchParams.set('scope', 'openid email profile')
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier))
  url.searchParams.set('code_challenge_method', 'S256')
  url.searchParams.set('state', state)
  url.searchParams.set('nonce', nonce)
  url.searchParams.set('prompt', 'select_account')
  return { authorizationUrl: url, state, nonce, codeVerifier }
}

/**
 * fetch itself failed or timed out (the token or JWKS endpoint is unreachable), as opposed to a refusal: fetch
 * rejects with a plain TypeError (oauth4webapi's own argument errors carry an ERR_ code) or a timeout DOMException.
 */
const isNetworkFailure = (err: unknown) =>
  (err instanceof TypeError && !('code' in err)) || (err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError'))

export type VerifiedIdentity = { sub: string; email: string; name: string | null }

const refused = (message: string, code: string) => new ApiError('unauthorized', message, { code })

/**
 * The callback: checks state (against the one stored for this browser), exchanges the code with the PKCE verifier,
 * validates the ID token (nonce included) and its signature, and requires a verified email.
 */
export async function finishSignIn(
  s: OidcSettings,
  callbackUrl: URL,
  expected: { state: string; nonce: string; codeVerifier: string; redirectUri: string },
): Promise<VerifiedIdentity> {
  const as = await authorizationServer(s)
  const client: oauth.Client = { client_id: s.clientId }
  let params: URLSearchParams
  try {
    params = oauth.validateAuthResponse(as, client, callbackUrl, expected.state)
  } catch (err) {
    log.warn('oidc_callback_refused', { stage: 'authorization_response', error: String(err) })
    throw refused('The sign-in response was not valid (state or error); start again.', 'sign_in_failed')
  }
  let claims: oauth.IDToken | undefined
  try {
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.ClientSecretPost(s.clientSecret),
      params,
      expected.redirectUri,
      expected.codeVerifier,
      {
        ...httpOptions(s),
        signal: AbortSignal.timeout(10_000),
      },
    )
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: expected.nonce, requireIdToken: true })
    const jwksCache = jwksCaches.get(s.issuer.href) ?? {}
    jwksCaches.set(s.issuer.href, jwksCache)
    await oauth.validateApplicationLevelSignature(as, response, { ...httpOptions(s), [oauth.jwksCache]: jwksCache })
    claims = oauth.getValidatedIdTokenClaims(result)
  } catch (err) {
    if (isNetworkFailure(err)) {
      log.error('oidc_token_endpoint_unreachable', { issuer: s.issuer.href, error: String(err) })
      throw new ApiError('upstream_unavailable', 'The sign-in provider cannot be reached; try again shortly.', { code: 'sign_in_unavailable' })
    }
    log.warn('oidc_callback_refused', { stage: 'token', error: String(err) })
    throw refused('The sign-in could not be verified; start again.', 'sign_in_failed')
  }
  if (!claims) throw refused('The sign-in returned no ID token.', 'sign_in_failed')
  const email = typeof claims.email === 'string' ? claims.email.trim().toLowerCase() : ''
  if (!email || claims.email_verified !== true) throw refused('Sign in with an account whose email address is verified.', 'email_not_verified')
  return { sub: claims.sub, email, name: typeof claims.name === 'string' ? claims.name : null }
}
