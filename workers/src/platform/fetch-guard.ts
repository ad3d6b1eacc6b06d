// The global fetch as production allows it (installed by guard.ts): in production-like environments a fetch to an
// IP address is refused here, with an error that says why, instead of failing only once deployed; in tests each
// fetch also counts as a subrequest of its invocation.

const IPV4_HOST = /^\d{1,3}(\.\d{1,3}){3}$/

/**
 * True when the URL names its host by IP address. A deployed Worker cannot fetch those: "Requests can only be made
 * to URLs, not to IP addresses directly… add an A or AAAA record" (cloudflare-docs workers/platform/known-issues.mdx,
 * error 1003). The WHATWG URL parser has already normalised `0x7f.1` or `2130706433` to `127.0.0.1`, and keeps
 * IPv6 literals in brackets.
 */
export function isIpLiteralUrl(url: string): boolean {
  let host: string
  try {
    host = new URL(url).hostname
  } catch {
    return false // not a URL: fetch itself will refuse it
  }
  return host.startsWith('[') || IPV4_HOST.test(host)
}

export type FetchPolicy = {
  /** Whether the current invocation runs production-like (then an IP literal is refused). */
  refusesIpLiterals(): boolean
  /** Called before each fetch goes out; throws when the invocation is out of subrequests. */
  onSubrequest(): void
}

/** `base` (the runtime's fetch) behind the policy. A refusal is a rejected promise, as a network failure would be. */
export function guardFetch(base: typeof fetch, policy: FetchPolicy): typeof fetch {
  return function guardedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    try {
      const url = input instanceof Request ? input.url : String(input)
      if (policy.refusesIpLiterals() && isIpLiteralUrl(url)) {
        throw new Error(`Refused fetch to ${url}: a deployed Worker cannot fetch an IP address (Cloudflare error 1003); give the host a DNS name`)
      }
      policy.onSubrequest()
    } catch (err) {
      return Promise.reject(err)
    }
    return base.call(globalThis, input, init)
  }
}
