// The fetch guard's decisions, on a stub fetch: what a production-like environment refuses, and what it lets out.
import { describe, expect, it } from 'vitest'
import { guardFetch, isIpLiteralUrl } from './fetch-guard.ts'

function stubbed(refusesIpLiterals: boolean) {
  const sent: string[] = []
  let subrequests = 0
  const base = ((input: RequestInfo | URL) => {
    sent.push(input instanceof Request ? input.url : String(input))
    return Promise.resolve(new Response('ok'))
  }) as typeof fetch
  const guarded = guardFetch(base, {
    refusesIpLiterals: () => refusesIpLiterals,
    onSubrequest: () => {
      subrequests++
    },
  })
  return { guarded, sent, subrequests: () => subrequests }
}

const IP_URLS = ['http://10.0.0.1/', 'http://127.0.0.1:8000/v1/models', 'http://[::1]/', 'https://[2001:db8::1]:8443/x', 'http://2130706433/', 'http://0x7f.1/']
const HOST_URLS = [
  'https://node-1.example.com/v1/models',
  'http://localhost:8000/health',
  'http://10.0.0.1.nip.io/',
  'https://api.stripe.com/v1/billing/meter_events',
]

describe('isIpLiteralUrl', () => {
  it('is true for IPv4 and IPv6 literals, in any form the URL parser normalises', () => {
    for (const url of IP_URLS) expect(isIpLiteralUrl(url), url).toBe(true)
  })
  it('is false for host names, even ones that spell an address', () => {
    for (const url of HOST_URLS) expect(isIpLiteralUrl(url), url).toBe(false)
  })
})

describe('guardFetch', () => {
  it('refuses an IP address in a production-like environment without sending anything', async () => {
    const { guarded, sent } = stubbed(true)
    for (const url of IP_URLS) await expect(guarded(url), url).rejects.toThrow(/cannot fetch an IP address \(Cloudflare error 1003\)/)
    await expect(guarded(new Request('http://10.0.0.1/'))).rejects.toThrow(/IP address/)
    expect(sent).toEqual([])
  })

  it('lets host names through in production, and IP addresses in development and tests, counting each', async () => {
    const prod = stubbed(true)
    for (const url of HOST_URLS) expect((await prod.guarded(url)).status).toBe(200)
    expect(prod.sent).toEqual(HOST_URLS)
    const dev = stubbed(false)
    for (const url of IP_URLS) await dev.guarded(url)
    expect(dev.sent).toHaveLength(IP_URLS.length)
    expect(dev.subrequests()).toBe(IP_URLS.length)
  })
})
