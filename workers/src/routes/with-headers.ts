// Adds headers to a response that may have come from elsewhere (its own headers can be immutable).
export function withHeaders(res: Response, headers: Record<string, string>): Response {
  if (Object.keys(headers).length === 0) return res
  const out = new Response(res.body, res)
  for (const [name, value] of Object.entries(headers)) out.headers.set(name, value)
  return out
}
