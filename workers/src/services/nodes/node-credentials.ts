// Per-node secrets: random tokens, their SHA-256 for storage, and a constant-time check of a presented token
// against a stored digest. Used by the runner's credential minting and by node registration.
const encoder = new TextEncoder()

const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
const toBase64Url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '')

/** `prefix` + 256 random bits, URL- and shell-safe. */
export function randomSecret(prefix: string): string {
  return prefix + toBase64Url(crypto.getRandomValues(new Uint8Array(32)))
}

export async function sha256Hex(text: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text))))
}

/** True when sha256(presented) equals the stored hex digest; the comparison time does not depend on where they differ. */
export async function digestMatches(presented: string, storedHex: string): Promise<boolean> {
  const actual = await sha256Hex(presented)
  if (actual.length !== storedHex.length) return false
  let diff = 0
  for (let i = 0; i < actual.length; i++) diff |= actual.charCodeAt(i) ^ storedHex.charCodeAt(i)
  return diff === 0
}
