// API key material: `sk-cic-<40 base62 chars>`. Only the SHA-256 hex digest and a display prefix are stored.
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const SECRET_LENGTH = 40

export function generateApiKey(): { key: string; prefix: string } {
  // 62 * 4 = 248 < 256: drop the few bytes that would bias the alphabet.
  let body = ''
  while (body.length < SECRET_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(64))) {
      if (byte < 248 && body.length < SECRET_LENGTH) body += ALPHABET[byte % 62]
    }
  }
  const key = `sk-cic-${body}`
  return { key, prefix: key.slice(0, 12) }
}

export async function hashApiKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key))
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
}
