// Stripe's request encoding: application/x-www-form-urlencoded with bracketed keys, as stripe-node writes them
// (`line_items[0][price]=price_x`, `subscription_data[metadata][cic_tenant_id]=ten_x`, `expand[]=...`), read back
// into nested objects and arrays. Pure; used by the Checkout/portal/customer routes of the stand-in.

export type FormValue = string | FormValue[] | { [key: string]: FormValue }
export type FormObject = { [key: string]: FormValue }

/** `a[b][0][c]` -> ['a', 'b', '0', 'c']; `expand[]` -> ['expand', '']. Null when the key is malformed. */
function pathOf(key: string): string[] | null {
  const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key)
  if (!match?.[1]) return null
  const rest = [...(match[2] ?? '').matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1] ?? '')
  return [match[1], ...rest]
}

export function parseStripeForm(body: string): { ok: true; params: FormObject } | { ok: false; param: string } {
  const root: FormObject = {}
  for (const [key, value] of new URLSearchParams(body)) {
    const path = pathOf(key)
    if (!path) return { ok: false, param: key }
    let node: FormObject | FormValue[] = root
    for (let i = 0; i < path.length; i++) {
      const part = path[i] as string
      const isLast = i === path.length - 1
      const nextIsIndex = !isLast && /^\d*$/.test(path[i + 1] as string)
      if (Array.isArray(node)) {
        const index = part === '' ? node.length : Number(part)
        if (!Number.isInteger(index) || index > node.length) return { ok: false, param: key } // indices in order, no gaps
        if (isLast) node[index] = value
        else node = (node[index] ??= nextIsIndex ? [] : {}) as FormObject | FormValue[]
      } else {
        if (part === '' || part === '__proto__' || part === 'constructor' || part === 'prototype') return { ok: false, param: key }
        if (isLast) node[part] = value
        else node = (node[part] ??= nextIsIndex ? [] : {}) as FormObject | FormValue[]
      }
      if (!isLast && typeof node === 'string') return { ok: false, param: key }
    }
  }
  return { ok: true, params: root }
}

/** A string field, or null when absent or not a string. */
export const str = (value: FormValue | undefined): string | null => (typeof value === 'string' ? value : null)

/** A flat string map (metadata), or null when absent or not one. */
export function stringMap(value: FormValue | undefined): Record<string, string> | null {
  if (value === undefined || typeof value === 'string' || Array.isArray(value)) return null
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') return null
    out[k] = v
  }
  return out
}
