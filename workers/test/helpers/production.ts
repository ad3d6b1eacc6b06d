// The Worker called with the test bindings switched to production: every secret set to a strong value (a
// production-like environment refuses short or placeholder secrets at its first request, workers/src/secrets.ts),
// ENVIRONMENT production, and whatever a test adds (NODES_ZONE, a token it presents).
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import worker from '../../src/index.ts'
import { SECRET_NAMES } from '../../src/secrets.ts'

export function productionEnv(overrides: Record<string, string> = {}): Env {
  const bindings = env as unknown as Record<string, unknown>
  return {
    ...bindings,
    ...Object.fromEntries(
      SECRET_NAMES.filter((name) => typeof bindings[name] === 'string').map((name) => [name, `strong-${name.toLowerCase()}-${'s'.repeat(40)}`]),
    ),
    ENVIRONMENT: 'production',
    ...overrides,
  } as unknown as Env
}

/** A JSON POST to the Worker under `workerEnv`, its waitUntil work finished before the answer is returned. */
export async function postToWorker(workerEnv: Env, path: string, json: unknown, authorization: string): Promise<Response> {
  const ctx = createExecutionContext()
  const res = await worker.fetch!(
    new Request(`https://gateway.example.com${path}`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify(json),
    }) as Request<unknown, IncomingRequestCfProperties>,
    workerEnv,
    ctx,
  )
  await waitOnExecutionContext(ctx)
  return res
}
