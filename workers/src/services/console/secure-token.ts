// Random tokens (cookies, invite links, CSRF) and the hash they are stored under: only the SHA-256 of a session
// id, a sign-in attempt id or an invite token is in D1, so a leaked database opens no session. Constant-time
// comparison: middleware/bearer-auth.ts tokensMatch.

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')

/** 32 random bytes, base64url (43 characters, 256 bits). */
export function randomToken(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)))
}

export async function sha256Hex(value: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value)))
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}
