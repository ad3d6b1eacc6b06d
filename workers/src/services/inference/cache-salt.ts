// The per-tenant `cache_salt` a vLLM node gets on generation requests. vLLM's prefix cache is shared by every
// request on a node: a prompt whose prefix another request cached answers sooner, so time to first token tells
// one tenant whether another recently sent the same prefix. vLLM folds `cache_salt` into the first block's
// hash (vllm/entrypoints/openai/protocol.py, ChatCompletionRequest and CompletionRequest: "the prefix cache
// will be salted with the provided string ... 43 characters base64-encoded, corresponding to 256 bit"), so
// only requests with the same salt share cache blocks. The salt is a keyed hash of the tenant and the client's
// own salt (a tenant keeps its per-user isolation), never the client's value itself. Called by
// inference/run-inference.ts; the body gets it per attempt in proxy/forward-inference.ts (vLLM nodes only).

/** HKDF `info`: binds the derived key to this one use of SECRETS_KEY. */
const KEY_LABEL = 'cic/cache-salt/v1'

const keys = new Map<string, Promise<CryptoKey>>()

/** The HMAC key, derived once per isolate (per SECRETS_KEY value) from SECRETS_KEY with HKDF-SHA256. */
function keyFor(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret)
  if (!key) {
    const encoder = new TextEncoder()
    key = crypto.subtle
      .importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveKey'])
      .then((base) =>
        crypto.subtle.deriveKey(
          { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode(KEY_LABEL) },
          base,
          { name: 'HMAC', hash: 'SHA-256', length: 256 },
          false,
          ['sign'],
        ),
      )
    key.catch(() => keys.delete(secret)) // a failed derivation is tried again by the next request
    keys.set(secret, key)
  }
  return key
}

const toB64Url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')

/**
 * Salts already computed in this isolate, by SECRETS_KEY, tenant and client salt. One HMAC, its base64url and
 * the key lookup cost about 40 µs per request in the gateway isolate's CPU profile (`npm run bench:profile`,
 * 2026-12-05: cacheSaltFor + toB64Url + sign), for a value that never changes for a given tenant and client salt.
 * Bounded: emptied when full (clients that send a new `cache_salt` per request only recompute).
 */
const saltsBySecret = new Map<string, Map<string, string>>()
const MAX_SALTS = 1_000

/**
 * base64url(HMAC-SHA256(k, tenantId + "\n" + (clientSalt ?? ""))): 43 characters. One HMAC per tenant and client
 * salt per isolate once the key is derived. A tenant id holds no newline, so no (tenant, client salt) pair
 * collides with another.
 */
export async function cacheSaltFor(secretsKey: string, tenantId: string, clientSalt: string | null): Promise<string> {
  const input = `${tenantId}\n${clientSalt ?? ''}`
  let salts = saltsBySecret.get(secretsKey)
  if (!salts) saltsBySecret.set(secretsKey, (salts = new Map()))
  const known = salts.get(input)
  if (known !== undefined) return known
  const mac = await crypto.subtle.sign('HMAC', await keyFor(secretsKey), new TextEncoder().encode(input))
  const salt = toB64Url(new Uint8Array(mac))
  if (salts.size >= MAX_SALTS) salts.clear()
  salts.set(input, salt)
  return salt
}
