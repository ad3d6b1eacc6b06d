// An env whose TENANT_GATE stubs report every call before passing it to the real object, so a test can count
// the RPCs a path makes (and fail one by throwing from `onCall`).
import { env } from 'cloudflare:workers'

type GateStub = ReturnType<Env['TENANT_GATE']['getByName']>
export type GateCall = { method: string; args: unknown[] }

export function spyOnGate(onCall: (call: GateCall) => void): Env {
  const TENANT_GATE = {
    getByName(name: string) {
      const stub = env.TENANT_GATE.getByName(name)
      return new Proxy(stub, {
        get(target, method: string) {
          const methods = target as unknown as Record<string, (...args: unknown[]) => unknown>
          if (method === 'then') return undefined // not a thenable
          return (...args: unknown[]) => {
            try {
              onCall({ method, args })
            } catch (err) {
              return Promise.reject(err)
            }
            return methods[method]!(...args) // called on the stub itself: an RPC stub's methods are not functions to apply
          }
        },
      }) as GateStub
    },
  }
  return { ...env, TENANT_GATE } as unknown as Env
}
