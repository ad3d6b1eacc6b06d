import { describe, expect, it } from 'vitest'
import { registerNodeSchema, usageQuerySchema } from './admin.ts'

describe('usageQuerySchema', () => {
  it('treats empty ?from=&to= as absent (not as 0)', () => {
    expect(usageQuerySchema.parse({ from: '', to: '' })).toEqual({})
    expect(usageQuerySchema.parse({ from: '', to: '1700000000000' })).toEqual({ to: 1_700_000_000_000 })
  })
  it('still coerces numbers (below 1e11: Unix seconds) and refuses bad ones', () => {
    expect(usageQuerySchema.parse({ from: '0', to: '5' })).toEqual({ from: 0, to: 5000 })
    expect(usageQuerySchema.safeParse({ to: '0' }).success).toBe(false)
    expect(usageQuerySchema.safeParse({ from: 'yesterday' }).success).toBe(false)
  })
})

describe('registerNodeSchema endpoint', () => {
  it("drops an OpenAI base URL's /v1 and trailing slashes", () => {
    const parse = (endpoint: string) => registerNodeSchema.parse({ endpoint, models: ['m'] }).endpoint
    expect(parse('http://10.0.0.1:8000/v1')).toBe('http://10.0.0.1:8000')
    expect(parse('http://10.0.0.1:8000/V1//')).toBe('http://10.0.0.1:8000')
    expect(parse('http://10.0.0.1:8000/v1beta')).toBe('http://10.0.0.1:8000/v1beta')
  })
})
