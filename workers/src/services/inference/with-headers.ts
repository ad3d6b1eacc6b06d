// Adds headers to a response that may have come from elsewhere: set in place when its headers are mutable (one
// the Worker built), else on a copy (a fetched response's headers are immutable; copying wraps its body).
export function withHeaders(res: Response, headers: Record<string, string>): Response {
  const entries = Object.entries(headers)
  if (entries.length === 0) return res
  try {
    for (const [name, value] of entries) res.headers.set(name, value)
    return res
  } catch {
    const out = new Response(res.body, res)
    for (const [name, value] of entries) out.headers.set(name, value)
    return out
  }
}
