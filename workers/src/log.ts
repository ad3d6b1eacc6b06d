// Structured logs: one JSON object per line, always with the request id when there is one; never a key.
// Lines written while a request is handled (its waitUntil work included) carry its `request_id` without the
// caller passing it: observe-request.ts runs the request inside withRequestId.
import { AsyncLocalStorage } from 'node:async_hooks'

type Fields = Record<string, unknown>
const requestScope = new AsyncLocalStorage<{ requestId: string }>()

/** Runs `fn` (and everything it starts) with `requestId` stamped on its log lines. */
export const withRequestId = <T>(requestId: string, fn: () => T): T => requestScope.run({ requestId }, fn)

const write = (level: string, msg: string, fields: Fields) => {
  const scope = requestScope.getStore()
  console.log(JSON.stringify({ level, msg, time: new Date().toISOString(), ...(scope ? { request_id: scope.requestId } : {}), ...fields }))
}

export const log = {
  info: (msg: string, fields: Fields = {}) => write('info', msg, fields),
  warn: (msg: string, fields: Fields = {}) => write('warn', msg, fields),
  error: (msg: string, fields: Fields = {}) => write('error', msg, fields),
}
