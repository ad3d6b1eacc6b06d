// `/_standin/*`: lets tests that cannot hold the Standin object (e.g. Workers tests, where the stand-in
// runs in a Node global setup) read stats and change knobs over HTTP. Not part of vLLM's API.

import type { ServerResponse } from 'node:http'
import { sendJson } from './http-io.ts'
import { applyKnobPatch } from './knobs.ts'
import type { Knobs } from './knobs.ts'
import type { Stats } from './stats.ts'

export type ControlTarget = { knobs: Knobs; stats: Stats; reset(): void }

export const CONTROL_PREFIX = '/_standin/'

/**
 * GET  /_standin/stats  → Stats as JSON
 * GET  /_standin/knobs  → Knobs as JSON
 * POST /_standin/knobs  → merge a partial Knobs object (400 on an unknown knob or bad value)
 * POST /_standin/reset  → initial knobs, zeroed stats
 */
export function serveControl(method: string, path: string, body: unknown, target: ControlTarget, res: ServerResponse): void {
  const route = `${method} ${path.slice(CONTROL_PREFIX.length)}`
  switch (route) {
    case 'GET stats':
      return sendJson(res, 200, JSON.stringify(target.stats))
    case 'GET knobs':
      return sendJson(res, 200, JSON.stringify(target.knobs))
    case 'POST knobs': {
      const problem = applyKnobPatch(target.knobs, body)
      return problem ? sendJson(res, 400, JSON.stringify({ error: problem })) : sendJson(res, 200, JSON.stringify(target.knobs))
    }
    case 'POST reset':
      target.reset()
      return sendJson(res, 200, JSON.stringify(target.knobs))
    default:
      return sendJson(res, 404, '{"detail":"Not Found"}')
  }
}
