// Behaviour knobs of the vLLM stand-in: defaults, validation, and per-request overrides read from
// `x-standin-<knob>` headers. Used by server.ts (initial knobs), router.ts (headers), control.ts and main.ts.

/** What the stand-in does instead of (or in the middle of) a normal answer. */
export type FailMode = 'none' | 'http500' | 'reset' | 'hang' | 'midstream-error' | 'stall' | 'huge-line' | 'huge-body' | 'huge-error' | 'redirect'
/** `current` = vLLM ≥ 0.10 `{"error":{…,"code":<int>}}`; `legacy` = old flat `{"object":"error",…}`. */
export type ErrorFormat = 'current' | 'legacy'

export type Knobs = {
  /** Delay before the first token (prefill time), milliseconds. */
  ttftMs: number
  /** Decode speed; 0 = no delay between tokens. */
  tokensPerSecond: number
  fail: FailMode
  /**
   * For `reset`, `midstream-error`, `stall` and `huge-line`: how many content tokens are sent before failing.
   * `huge-line` (streams) then sends one `data:` line of `hugeBytes` with no line end and closes; `huge-body` answers
   * 200 with a JSON body of `hugeBytes`; `huge-error` answers 500 with one; `redirect` answers 307 to /v1/elsewhere.
   */
  failAfterTokens: number
  /** Length of the natural answer in tokens; `max_tokens` below this ends with finish_reason `length`. */
  answerTokens: number
  /** `vllm:num_requests_waiting` gauge. */
  queueDepth: number
  /** `vllm:num_requests_running` gauge; null = the real number of in-flight requests. */
  running: number | null
  /** `vllm:kv_cache_usage_perc` (and the old `gpu_cache_usage_perc`) gauge, 0–1. */
  kvCacheUsage: number
  /** Status of `GET /health`: 200, or 503 to mimic a dead engine. */
  healthStatus: number
  errorFormat: ErrorFormat
  /** Send no `usage` at all (JSON bodies, include_usage frames, continuous usage), like a node that omits it. */
  omitUsage: boolean
  /** Size of what the `huge-*` fail modes send, written lazily in 64 KiB pieces as the socket drains. */
  hugeBytes: number
  /** Comment bytes appended to `GET /metrics` (a scrape larger than any real one). */
  metricsPadBytes: number
  /** Usage the node reports, overriding the real counts (a faulty node over-billing); null = the real ones. */
  reportedCompletionTokens: number | null
  /**
   * Prompt tokens reported as served from the prefix cache (`usage.prompt_tokens_details.cached_tokens`, as vLLM
   * with --enable-prompt-tokens-details); null = no details (the flag off). Not checked against the prompt: a
   * faulty node may report more cached than prompt tokens.
   */
  reportedCachedTokens: number | null
}

export const DEFAULT_KNOBS: Readonly<Knobs> = {
  ttftMs: 0,
  tokensPerSecond: 0,
  fail: 'none',
  failAfterTokens: 2,
  answerTokens: 16,
  queueDepth: 0,
  running: null,
  kvCacheUsage: 0,
  healthStatus: 200,
  errorFormat: 'current',
  omitUsage: false,
  hugeBytes: 16 * 1024 * 1024,
  metricsPadBytes: 0,
  reportedCompletionTokens: null,
  reportedCachedTokens: null,
}

const FAIL_MODES: readonly FailMode[] = ['none', 'http500', 'reset', 'hang', 'midstream-error', 'stall', 'huge-line', 'huge-body', 'huge-error', 'redirect']
const ERROR_FORMATS: readonly ErrorFormat[] = ['current', 'legacy']

type KnobName = keyof Knobs
type Parsed = { ok: true; value: Knobs[KnobName] } | { ok: false }

function nonNegative(raw: unknown): Parsed {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? { ok: true, value: n } : { ok: false }
}
function nonNegativeInteger(raw: unknown): Parsed {
  const parsed = nonNegative(raw)
  return parsed.ok && Number.isInteger(parsed.value) ? parsed : { ok: false }
}
function httpStatus(raw: unknown): Parsed {
  const n = typeof raw === 'string' ? Number(raw) : raw
  return typeof n === 'number' && Number.isInteger(n) && n >= 100 && n <= 599 ? { ok: true, value: n } : { ok: false }
}
function flag(raw: unknown): Parsed {
  if (raw === true || raw === 'true' || raw === '1') return { ok: true, value: true }
  if (raw === false || raw === 'false' || raw === '0') return { ok: true, value: false }
  return { ok: false }
}
function oneOf(allowed: readonly string[]) {
  return (raw: unknown): Parsed => (typeof raw === 'string' && allowed.includes(raw) ? { ok: true, value: raw as Knobs[KnobName] } : { ok: false })
}

/** One parser per knob; the header name is `x-standin-` + the kebab-case knob name. */
const KNOB_PARSERS: Record<KnobName, (raw: unknown) => Parsed> = {
  ttftMs: nonNegative,
  tokensPerSecond: nonNegative,
  fail: oneOf(FAIL_MODES),
  failAfterTokens: nonNegativeInteger,
  answerTokens: nonNegativeInteger,
  queueDepth: nonNegativeInteger,
  running: (raw) => (raw === null || raw === 'null' ? { ok: true, value: null } : nonNegativeInteger(raw)),
  kvCacheUsage: nonNegative,
  healthStatus: httpStatus,
  errorFormat: oneOf(ERROR_FORMATS),
  omitUsage: flag,
  hugeBytes: nonNegativeInteger,
  metricsPadBytes: nonNegativeInteger,
  reportedCompletionTokens: (raw) => (raw === null || raw === 'null' ? { ok: true, value: null } : nonNegativeInteger(raw)),
  reportedCachedTokens: (raw) => (raw === null || raw === 'null' ? { ok: true, value: null } : nonNegativeInteger(raw)),
}
const KNOB_NAMES = Object.keys(KNOB_PARSERS) as KnobName[]

export const KNOB_HEADERS: ReadonlyArray<readonly [KnobName, string]> = KNOB_NAMES.map(
  (name) => [name, 'x-standin-' + name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())] as const,
)

export type KnobsResult = { ok: true; knobs: Knobs } | { ok: false; message: string }

function assign(target: Knobs, name: KnobName, raw: unknown, label: string): string | null {
  const parsed = KNOB_PARSERS[name](raw)
  if (!parsed.ok)
    return `invalid ${label}: ${JSON.stringify(raw)}`
    // The parser for `name` only ever yields values of that knob's type.
  ;(target as Record<KnobName, Knobs[KnobName]>)[name] = parsed.value
  return null
}

/**
 * Knobs for one request: the live knobs, overridden by any `x-standin-*` headers.
 * Returns the live object itself when no header is present (the common, allocation-free case).
 */
export function knobsForRequest(live: Knobs, headers: Readonly<Record<string, string | string[] | undefined>>): KnobsResult {
  let merged: Knobs | null = null
  for (const [name, header] of KNOB_HEADERS) {
    const raw = headers[header]
    if (raw === undefined) continue
    merged ??= { ...live }
    const problem = assign(merged, name, Array.isArray(raw) ? raw[0] : raw, header + ' header')
    if (problem) return { ok: false, message: problem }
  }
  return { ok: true, knobs: merged ?? live }
}

/** Validates a partial knob object (CLI options, `POST /_standin/knobs`) and applies it to `target`. */
export function applyKnobPatch(target: Knobs, patch: unknown): string | null {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return 'knobs must be a JSON object'
  const staged: Knobs = { ...target }
  for (const [key, raw] of Object.entries(patch)) {
    if (!(key in KNOB_PARSERS)) return `unknown knob: ${key}`
    const problem = assign(staged, key as KnobName, raw, key)
    if (problem) return problem
  }
  Object.assign(target, staged)
  return null
}
