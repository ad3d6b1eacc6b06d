// The console's sign-in settings: what production-like environments refuse, and the cookie and operator rules.
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { secureCookies } from '../../routes/console/console-auth.ts'
import { isOperatorEmail, oidcSettings } from './console-config.ts'

const strong = 'k'.repeat(40)
const configOf = (vars: Record<string, string>) =>
  loadConfig({ ADMIN_TOKEN: strong, SECRETS_KEY: strong, OIDC_CLIENT_ID: strong, OIDC_CLIENT_SECRET: strong, ...vars } as unknown as Env)

const refusal = (run: () => unknown) => {
  try {
    run()
  } catch (err) {
    return err instanceof ApiError ? `${err.status} ${err.extra.code}` : String(err)
  }
  return 'accepted'
}

describe('console sign-in settings', () => {
  it('refuses an http issuer in staging and production, allows it in development and tests', () => {
    for (const ENVIRONMENT of ['staging', 'production'])
      expect(refusal(() => oidcSettings(configOf({ ENVIRONMENT, OIDC_ISSUER: 'http://127.0.0.1:9400' })))).toBe('503 sign_in_not_configured')
    expect(oidcSettings(configOf({ ENVIRONMENT: 'production', OIDC_ISSUER: 'https://accounts.google.com' })).allowHttp).toBe(false)
    for (const ENVIRONMENT of ['development', 'test'])
      expect(oidcSettings(configOf({ ENVIRONMENT, OIDC_ISSUER: 'http://127.0.0.1:9400' })).allowHttp).toBe(true)
  })

  it('answers 503 while the issuer or the client is not set', () => {
    expect(refusal(() => oidcSettings(configOf({ ENVIRONMENT: 'production', OIDC_ISSUER: '' })))).toBe('503 sign_in_not_configured')
    const noClient = loadConfig({ ADMIN_TOKEN: strong, SECRETS_KEY: strong, ENVIRONMENT: 'test', OIDC_ISSUER: 'https://accounts.google.com' } as unknown as Env)
    expect(refusal(() => oidcSettings(noClient))).toBe('503 sign_in_not_configured')
  })

  it('refuses a placeholder client secret in production-like environments (as every secret)', () => {
    expect(() => configOf({ ENVIRONMENT: 'staging', OIDC_CLIENT_SECRET: 'cic-dev-oidc-client-secret-change-me' })).toThrow(/OIDC_CLIENT_SECRET/)
  })

  it('sets Secure cookies everywhere but development and tests', () => {
    expect(secureCookies(configOf({ ENVIRONMENT: 'production' }))).toBe(true)
    expect(secureCookies(configOf({ ENVIRONMENT: 'staging' }))).toBe(true)
    expect(secureCookies(configOf({ ENVIRONMENT: 'development' }))).toBe(false)
    expect(secureCookies(configOf({ ENVIRONMENT: 'test' }))).toBe(false)
  })

  it('matches operators by email, case-insensitively, from a comma-separated list', () => {
    const config = configOf({ ENVIRONMENT: 'test', OPERATOR_EMAILS: ' Ops@Example.com, second@example.com ,' })
    expect(isOperatorEmail(config, 'ops@example.com')).toBe(true)
    expect(isOperatorEmail(config, 'SECOND@example.com')).toBe(true)
    expect(isOperatorEmail(config, 'other@example.com')).toBe(false)
    expect(isOperatorEmail(configOf({ ENVIRONMENT: 'test' }), '')).toBe(false)
  })
})
