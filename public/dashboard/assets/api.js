// The console's calls to its JSON API (/dashboard/api, session cookie). Non-GET requests carry the session's CSRF
// token (x-csrf-token, from GET /me); errors arrive in the OpenAI envelope and are thrown as ApiError.

export const API = '/dashboard/api'
let csrfToken = null

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message)
    this.status = status
    this.code = code
  }
}

export function setCsrfToken(token) {
  csrfToken = token
}

export async function api(method, path, body) {
  const headers = { accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken
  const res = await fetch(API + path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) })
  const data = await res.json().catch(() => null)
  if (!res.ok) {
    const error = data?.error
    throw new ApiError(res.status, error?.message ?? `${method} ${path} failed (${res.status})`, error?.code ?? null)
  }
  return data
}

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value))
  const text = search.toString()
  return text ? `?${text}` : ''
}

/** Lists come back either bare or as {data: [...]}: the console reads both. */
export const list = (value, key = 'data') => (Array.isArray(value) ? value : Array.isArray(value?.[key]) ? value[key] : [])

export const enc = encodeURIComponent

/** POST /logout: ends the session on the server (CSRF-protected like the API). */
export async function signOut() {
  const res = await fetch('/dashboard/logout', { method: 'POST', credentials: 'same-origin', headers: csrfToken ? { 'x-csrf-token': csrfToken } : {} })
  if (!res.ok) throw new ApiError(res.status, `Sign out failed (${res.status})`, null)
}
