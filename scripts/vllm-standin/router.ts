// Routes one HTTP request: counts and records it, checks the API key on /v1/* (as vLLM's middleware
// does), resolves per-request knobs, and hands off to the endpoint. Created by server.ts.

import type { IncomingMessage, ServerResponse } from 'node:http'
import { CONTROL_PREFIX, serveControl } from './control.ts'
import { parseEmbeddingRequest, runEmbedding } from './embeddings.ts'
import { runGeneration } from './generation.ts'
import { parseGenerationRequest } from './generation-request.ts'
import type { GenerationKind } from './generation-request.ts'
import { parseBody, readBody, sendJson, sendText } from './http-io.ts'
import { trackInFlight } from './in-flight.ts'
import { knobsForRequest } from './knobs.ts'
import type { Knobs } from './knobs.ts'
import { metricsText } from './metrics.ts'
import { modelsListBody } from './served-models.ts'
import type { ServedModels } from './served-models.ts'
import { countRequest, rememberRequest } from './stats.ts'
import type { Stats } from './stats.ts'
import { badRequest, errorBody, UNAUTHORIZED_BODY } from './vllm-errors.ts'

export type StandinState = {
  served: ServedModels
  /** Live knobs; header overrides never modify this object. */
  knobs: Knobs
  stats: Stats
  /** `Bearer <key>`, or null when no API key is configured. */
  expectedAuthorization: string | null
  isShuttingDown(): boolean
  reset(): void
}

const POST_ROUTES: Readonly<Record<string, GenerationKind | 'embeddings'>> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'text',
  '/v1/embeddings': 'embeddings',
}
const GET_ROUTES = new Set(['/v1/models', '/health', '/metrics'])
const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

type Routed = { res: ServerResponse; path: string; body: unknown; isJson: boolean; knobs: Knobs }

export function createRequestHandler(state: StandinState) {
  return function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    route(state, req, res).catch((error: unknown) => {
      console.error('vllm-standin: handler failed', error) // a bug in the stand-in, never an expected path
      if (!res.headersSent) sendJson(res, 500, '{"detail":"Internal Server Error"}')
      else res.destroy()
    })
  }
}

async function route(state: StandinState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/'
  const queryAt = url.indexOf('?')
  const path = queryAt === -1 ? url : url.slice(0, queryAt)
  const method = req.method ?? 'GET'
  const isControl = path.startsWith(CONTROL_PREFIX)
  if (!isControl) countRequest(state.stats, path) // test plumbing stays out of the stats it reports
  const text = method === 'GET' || method === 'HEAD' ? '' : await readBody(req)
  if (text === null) return // the client left while sending its body; there is nothing to answer
  const { isJson, value: body } = parseBody(text)

  if (isControl) return serveControl(method, path, body, state, res)
  const isApi = path.startsWith('/v1')
  if (isApi) rememberRequest(state.stats, { method, path, headers: req.headers, body })
  if (isApi && state.expectedAuthorization !== null && req.headers.authorization !== state.expectedAuthorization) {
    return sendJson(res, 401, UNAUTHORIZED_BODY)
  }

  const postRoute = POST_ROUTES[path]
  if (!postRoute && !GET_ROUTES.has(path)) return sendJson(res, 404, '{"detail":"Not Found"}')
  if ((postRoute ? 'POST' : 'GET') !== method) return sendJson(res, 405, '{"detail":"Method Not Allowed"}')

  const resolved = knobsForRequest(state.knobs, req.headers)
  if (!resolved.ok) return sendJson(res, 400, errorBody(state.knobs.errorFormat, badRequest(resolved.message)))
  const routed: Routed = { res, path, body, isJson, knobs: resolved.knobs }
  if (postRoute === 'embeddings') return serveEmbeddings(state, routed)
  if (postRoute) return serveGeneration(state, routed, postRoute)
  return serveGet(state, routed)
}

function serveGet(state: StandinState, { res, path, knobs }: Routed): void {
  if (path === '/v1/models') return sendJson(res, 200, modelsListBody(state.served))
  if (path === '/metrics') {
    const pad = knobs.metricsPadBytes > 0 ? `# ${'x'.repeat(1021)}\n`.repeat(Math.ceil(knobs.metricsPadBytes / 1024)) : ''
    return sendText(res, 200, metricsText(state.served.models[0] ?? '', knobs, state.stats) + pad, METRICS_CONTENT_TYPE)
  }
  // /health: vLLM answers 200 with an empty body, or 503 once the engine is dead.
  res.writeHead(knobs.healthStatus, { 'content-length': 0 })
  res.end()
}

/** Body checks shared by all POST endpoints (FastAPI's JSON decoding, before vLLM sees the request). */
function jsonProblem({ res, body, isJson, knobs }: Routed): boolean {
  if (isJson) return false
  const message = body === undefined ? 'Field required: request body' : 'JSON decode error'
  sendJson(res, 400, errorBody(knobs.errorFormat, badRequest(message)))
  return true
}

async function serveGeneration(state: StandinState, routed: Routed, kind: GenerationKind): Promise<void> {
  if (jsonProblem(routed)) return
  const { res, knobs } = routed
  const request = parseGenerationRequest(kind, routed.body, state.served)
  if ('status' in request) return sendJson(res, request.status, errorBody(knobs.errorFormat, request))
  const inFlight = trackInFlight(res, state.stats, state.isShuttingDown)
  await runGeneration({ ...inFlight, request, knobs, res, stats: state.stats })
}

async function serveEmbeddings(state: StandinState, routed: Routed): Promise<void> {
  if (jsonProblem(routed)) return
  const { res, knobs } = routed
  const request = parseEmbeddingRequest(routed.body, state.served)
  if ('status' in request) return sendJson(res, request.status, errorBody(knobs.errorFormat, request))
  const inFlight = trackInFlight(res, state.stats, state.isShuttingDown)
  await runEmbedding({ ...inFlight, request, knobs, res, stats: state.stats })
}
