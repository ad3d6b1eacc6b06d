// API key material. Only the SHA-256 hex digest and a display prefix are stored. Called by key-admin.ts (issue) and
// middleware/api-key-auth.ts (every request: keyFormat before any lookup, hashApiKey for the lookup).
//
// Two formats, told apart by length alone (both start `sk-cic-`, which clients and secret scanners match on):
//   current  `sk-cic-<40 base62 body><6 base62 check>` (53 chars), check = CRC32 of the body in base62;
//   legacy   `sk-cic-<40 base62 body>` (47 chars), issued before the check existed; still accepted, looked up in D1.
// Anything else is malformed and a current-length key whose check does not match is refused: neither reaches D1.
//
// Why CRC32 (public, as GitHub's tokens do) and not an HMAC keyed from SECRETS_KEY: a keyed check would also stop
// keys forged by someone who knows the format, but it ties every tenant's key to SECRETS_KEY, and rotating that
// secret (docs/runbooks, reseal-node-keys.ts) would then break every key ever issued, or oblige us to keep every
// old SECRETS_KEY forever. The check's job is to keep random strings, scanners and typos (1 in 2^32 passes) away
// from D1 for free; an attacker who computes CRC32 is bounded per client by the failed-authentication limit
// (auth-failures.ts) like a legacy-format guess is.
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const KEY_PREFIX = 'sk-cic-'
const BODY_LENGTH = 40
/** 62^6 ≈ 5.7e10 > 2^32: six base62 digits hold any CRC32. */
const CHECK_LENGTH = 6
const LEGACY_LENGTH = KEY_PREFIX.length + BODY_LENGTH
const CURRENT_LENGTH = LEGACY_LENGTH + CHECK_LENGTH
const BASE62_BODY = /^[0-9A-Za-z]+$/

export type KeyFormat = 'current' | 'legacy' | 'malformed' | 'checksum'

export function generateApiKey(): { key: string; prefix: string } {
  // 62 * 4 = 248 < 256: drop the few bytes that would bias the alphabet.
  let body = ''
  while (body.length < BODY_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(64))) {
      if (byte < 248 && body.length < BODY_LENGTH) body += ALPHABET[byte % 62]
    }
  }
  const key = `${KEY_PREFIX}${body}${keyCheck(body)}`
  return { key, prefix: key.slice(0, 12) }
}

/** What a presented key is, from its text alone (no I/O): only `current` and `legacy` keys may be looked up. */
export function keyFormat(key: string): KeyFormat {
  if (!key.startsWith(KEY_PREFIX) || (key.length !== CURRENT_LENGTH && key.length !== LEGACY_LENGTH)) return 'malformed'
  const rest = key.slice(KEY_PREFIX.length)
  if (!BASE62_BODY.test(rest)) return 'malformed'
  if (key.length === LEGACY_LENGTH) return 'legacy'
  return keyCheck(rest.slice(0, BODY_LENGTH)) === rest.slice(BODY_LENGTH) ? 'current' : 'checksum'
}

/** CRC32 (IEEE, as zlib) of the body's ASCII bytes, as CHECK_LENGTH base62 digits, most significant first. */
export function keyCheck(body: string): string {
  let crc = 0xffffffff
  for (let i = 0; i < body.length; i++) crc = (CRC_TABLE[(crc ^ body.charCodeAt(i)) & 0xff] as number) ^ (crc >>> 8)
  let value = (crc ^ 0xffffffff) >>> 0
  let out = ''
  for (let i = 0; i < CHECK_LENGTH; i++) {
    out = ALPHABET[value % 62] + out
    value = Math.floor(value / 62)
  }
  return out
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))
const encoder = new TextEncoder()

/** Runs on every API request: a lookup table instead of a string built per byte. */
export async function hashApiKey(key: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(key)))
  let hex = ''
  for (const byte of digest) hex += HEX[byte]
  return hex
}
