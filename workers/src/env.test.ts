import { describe, expect, it } from 'vitest'
import { isProductionLike, loadConfig, productionSecretProblem } from './env.ts'

const strong = 'k'.repeat(40)
const baseEnv = { ADMIN_TOKEN: strong, SECRETS_KEY: strong } as unknown as Env

describe('isProductionLike', () => {
  it('is true for staging and production (and an unset ENVIRONMENT, which defaults to production)', () => {
    expect(isProductionLike({ ENVIRONMENT: 'staging' })).toBe(true)
    expect(isProductionLike({ ENVIRONMENT: 'production' })).toBe(true)
    expect(isProductionLike({})).toBe(true)
  })
  it('is false for development and test', () => {
    expect(isProductionLike({ ENVIRONMENT: 'development' })).toBe(false)
    expect(isProductionLike({ ENVIRONMENT: 'test' })).toBe(false)
  })
})

describe('loadConfig in production-like environments', () => {
  it('refuses the .dev.vars.example placeholders', () => {
    const env = { ...baseEnv, ENVIRONMENT: 'production', ADMIN_TOKEN: 'cic-dev-admin-token-change-me' } as unknown as Env
    expect(() => loadConfig(env)).toThrow(/ADMIN_TOKEN is a development placeholder/)
  })
  it('refuses a secret shorter than 32 characters in staging', () => {
    const env = { ...baseEnv, ENVIRONMENT: 'staging', METRICS_TOKEN: 'x'.repeat(20) } as unknown as Env
    expect(() => loadConfig(env)).toThrow(/METRICS_TOKEN must be at least 32 characters/)
  })
  it('accepts the same short and placeholder values in development', () => {
    const env = { ...baseEnv, ENVIRONMENT: 'development', ADMIN_TOKEN: 'cic-dev-admin-token-change-me' } as unknown as Env
    expect(loadConfig(env).ENVIRONMENT).toBe('development')
  })
  it('refuses an unknown ENVIRONMENT', () => {
    expect(() => loadConfig({ ...baseEnv, ENVIRONMENT: 'prod' } as unknown as Env)).toThrow(/ENVIRONMENT/)
  })
  it('accepts strong secrets in production', () => {
    expect(loadConfig({ ...baseEnv, ENVIRONMENT: 'production' } as unknown as Env).ENVIRONMENT).toBe('production')
    expect(productionSecretProblem('STRIPE_SECRET_KEY', `sk_live_${'a'.repeat(40)}`)).toBeUndefined()
  })
})

describe('NODES_ZONE', () => {
  const parse = (NODES_ZONE?: string) =>
    loadConfig({ ...baseEnv, ENVIRONMENT: 'development', ...(NODES_ZONE === undefined ? {} : { NODES_ZONE }) } as unknown as Env)
  it('defaults to empty and keeps a DNS name, lowercased', () => {
    expect(parse().NODES_ZONE).toBe('')
    expect(parse(' Nodes.Example.com ').NODES_ZONE).toBe('nodes.example.com')
  })
  it.each(['https://nodes.example.com', 'nodes.example.com.', '*.nodes.example.com', 'localhost'])('refuses %s', (zone) => {
    expect(() => parse(zone)).toThrow(/NODES_ZONE must be a DNS name/)
  })
})
