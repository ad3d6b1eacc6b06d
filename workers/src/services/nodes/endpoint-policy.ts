// Which node endpoints the gateway may be pointed at (POST /admin/nodes, POST /nodes/register). In production-like
// environments: only `https://` hosts under NODES_ZONE (the nodes' tunnel hostnames), and never a private, loopback,
// link-local or otherwise non-public address, so an admin typo or a node's registration cannot aim the gateway's
// requests (tenants' prompts, the node's key) at an internal service. A deployed Worker cannot fetch an IP literal
// at all (platform-facts §10, Cloudflare error 1003). Dev and tests keep http://127.0.0.1 and localhost.
import { isProductionLike } from '../../env.ts'
import { ApiError } from '../../errors.ts'

export type EndpointPolicy = { ENVIRONMENT?: string; NODES_ZONE: string }

/** Why `endpoint` is refused, or null. `endpoint` is already an http(s) URL (the request schemas check that). */
export function endpointProblem(endpoint: string, policy: EndpointPolicy): string | null {
  if (!isProductionLike(policy)) return null
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    return 'endpoint must be an https URL'
  }
  const host = url.hostname.replace(/\.$/, '')
  const special = specialHost(host)
  if (special) return `endpoint host '${host}' is ${special}; nodes must be reached on their public tunnel hostname`
  const zone = policy.NODES_ZONE
  if (!zone) return "NODES_ZONE is not set, so every node endpoint is refused in this environment; set it to the zone of the nodes' tunnel hostnames"
  if (url.protocol !== 'https:') return `endpoint must be https:// (got ${url.protocol}//)`
  if (url.username || url.password) return 'endpoint must not carry credentials (user:password@)'
  if (!host.endsWith(`.${zone}`)) return `endpoint host '${host}' is not under the nodes zone '${zone}' (NODES_ZONE)`
  return null
}

/** 400 naming `endpoint` when the endpoint is refused (see endpointProblem). */
export function assertEndpointAllowed(endpoint: string, policy: EndpointPolicy): void {
  const problem = endpointProblem(endpoint, policy)
  if (problem) throw new ApiError('invalid_request', `Invalid request: 'endpoint': ${problem}`, { param: 'endpoint', code: 'invalid_endpoint' })
}

/** A description of a host that is not a public DNS name or address, or null. `host` as URL.hostname gives it. */
export function specialHost(host: string): string | null {
  const name = host.toLowerCase()
  if (name === 'localhost' || name.endsWith('.localhost')) return 'a loopback name'
  if (name.endsWith('.local')) return 'a link-local (mDNS) name'
  if (name.endsWith('.internal')) return 'an internal name'
  const v4 = parseIpv4(name)
  if (v4) return ipv4Problem(v4)
  if (name.startsWith('[')) return ipv6Problem(name.slice(1, -1))
  return null
}

function parseIpv4(host: string): number[] | null {
  // URL.hostname already normalised 0x7f.1, 2130706433 and the like to dotted decimal.
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)
  if (!m) return null
  const parts = m.slice(1).map(Number)
  return parts.every((p) => p <= 255) ? parts : null
}

// RFC 6890 special-purpose ranges a node could not legitimately be on.
function ipv4Problem([a, b]: number[]): string | null {
  if (a === 127) return 'a loopback address'
  if (a === 10 || (a === 172 && b! >= 16 && b! <= 31) || (a === 192 && b === 168)) return 'a private address'
  if (a === 169 && b === 254) return 'a link-local address'
  if (a === 100 && b! >= 64 && b! <= 127) return 'a shared (carrier-grade NAT) address'
  if (a === 0) return 'an unspecified address'
  if (a! >= 224) return 'a multicast or reserved address'
  return null
}

/** Eight 16-bit groups, or null when not an IPv6 literal this function understands. */
function parseIpv6(literal: string): number[] | null {
  let text = literal.toLowerCase()
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted) {
    const v4 = parseIpv4(dotted[1]!)
    if (!v4) return null
    text = `${text.slice(0, -dotted[1]!.length)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`
  }
  const halves = text.split('::')
  if (halves.length > 2) return null
  const head = halves[0] ? halves[0].split(':') : []
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : []
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0
  const groups = [...head, ...Array<string>(Math.max(fill, 0)).fill('0'), ...tail]
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null
  return groups.map((g) => parseInt(g, 16))
}

function ipv6Problem(literal: string): string | null {
  const g = parseIpv6(literal)
  if (!g) return 'not a valid IPv6 address'
  const isZeroUntil = (n: number) => g.slice(0, n).every((x) => x === 0)
  if (isZeroUntil(7) && g[7] === 1) return 'a loopback address'
  if (isZeroUntil(8)) return 'an unspecified address'
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d): judged by the IPv4 address inside.
  const isMapped = isZeroUntil(5) && g[5] === 0xffff
  const isNat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)
  if (isMapped || isNat64) return ipv4Problem([g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff])
  if ((g[0]! & 0xfe00) === 0xfc00) return 'a private (unique local) address'
  if ((g[0]! & 0xffc0) === 0xfe80) return 'a link-local address'
  if ((g[0]! & 0xff00) === 0xff00) return 'a multicast address'
  return null
}
