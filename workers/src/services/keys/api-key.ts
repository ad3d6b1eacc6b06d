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

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))
const encoder = new TextEncoder()

/** Runs on every API request: a lookup table instead of a string built per byte. */
export async function hashApiKey(key: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(key)))
  let hex = ''
  for (const byte of digest) hex += HEX[byte]
  return hex
}
