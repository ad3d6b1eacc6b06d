// AES-GCM sealing of node API keys with a key derived from the SECRETS_KEY Worker secret, so D1 never holds
// an upstream credential in clear.
const keys = new Map<string, Promise<CryptoKey>>()

function keyFor(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret)
  if (!key) {
    key = crypto.subtle
      .digest('SHA-256', new TextEncoder().encode(secret))
      .then((raw) => crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']))
    keys.set(secret, key)
  }
  return key
}

const toB64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes))
const fromB64 = (text: string) => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0))

export async function seal(secret: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, await keyFor(secret), new TextEncoder().encode(plaintext))
  return `${toB64(iv)}.${toB64(new Uint8Array(sealed))}`
}

export async function open(secret: string, box: string): Promise<string> {
  const [iv, data] = box.split('.')
  if (!iv || !data) throw new Error('malformed sealed secret')
  const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromB64(iv) }, await keyFor(secret), fromB64(data))
  return new TextDecoder().decode(plain)
}
