// The platform guard: Cloudflare's production limits (limits.ts), enforced where the tests can see them. Every
// entry point enters it: the Worker's fetch, queue and scheduled handlers through guardInvocation (index.ts), each
// Durable Object through guardDurableObject in its constructor. With PLATFORM_LIMITS_GUARD=1 (vitest.config.ts)
// it wraps the D1, Durable Object SQL and Queue bindings and the global fetch, checks every statement's bound
// parameters and size, and counts D1 queries and subrequests per invocation, throwing where production would
// refuse. Without it nothing is wrapped, except that a production-like environment refuses fetch to an IP address.
// Not counted: calls to Durable Object stubs (RPC through a stub cannot be wrapped here; a request makes one to
// three, far below the 10,000 subrequests) and Queue message sizes.
import { AsyncLocalStorage } from 'node:async_hooks'
import { isProductionLike } from '../env.ts'
import { guardFetch } from './fetch-guard.ts'
import {
  D1_MAX_BOUND_PARAMETERS,
  D1_MAX_QUERIES_PER_INVOCATION,
  D1_MAX_STATEMENT_BYTES,
  D1_MAX_VALUE_BYTES,
  DO_SQL_MAX_BOUND_PARAMETERS,
  DO_SQL_MAX_STATEMENT_BYTES,
  DO_SQL_MAX_VALUE_BYTES,
  MAX_SUBREQUESTS_PER_INVOCATION,
} from './limits.ts'

export type GuardEnv = { ENVIRONMENT?: string; PLATFORM_LIMITS_GUARD?: string }

/** What one invocation has spent; `owner` is the Durable Object whose call it is (undefined for the Worker). */
type Invocation = { owner: object | undefined; d1Queries: number; subrequests: number; refusesIpLiterals: boolean }
const invocations = new AsyncLocalStorage<Invocation>()

const isGuarded = (env: GuardEnv) => env.PLATFORM_LIMITS_GUARD === '1'
const start = (env: GuardEnv, owner: object | undefined): Invocation => ({ owner, d1Queries: 0, subrequests: 0, refusesIpLiterals: isProductionLike(env) })

/** Runs one Worker invocation (a request with its waitUntil work, a queue batch, a cron run) under the guard. */
export function guardInvocation<T>(env: GuardEnv, run: () => T): T {
  if (!isGuarded(env)) {
    if (isProductionLike(env)) installFetchGuard(true)
    return run()
  }
  installGuard(env)
  return invocations.run(start(env, undefined), run)
}

/** What the current invocation has spent so far (undefined outside one); for tests. */
export function invocationUsage(): { d1Queries: number; subrequests: number } | undefined {
  const current = invocations.getStore()
  return current && { d1Queries: current.d1Queries, subrequests: current.subrequests }
}

/** The Worker's handlers, each call run by guardInvocation. */
type Handlers = {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>
  queue(batch: MessageBatch, env: Env): Promise<void>
  scheduled(controller: ScheduledController, env: Env): Promise<void>
}
export function guardHandlers(handlers: Handlers): Handlers {
  return {
    fetch: (request, env, ctx) => guardInvocation(env, () => handlers.fetch(request, env, ctx)),
    queue: (batch, env) => guardInvocation(env, () => handlers.queue(batch, env)),
    scheduled: (controller, env) => guardInvocation(env, () => handlers.scheduled(controller, env)),
  }
}

/** First line of a Durable Object's constructor: each call into the object (RPC method, alarm) is one invocation. */
export function guardDurableObject(object: object, ctx: DurableObjectState, env: GuardEnv): void {
  if (!isGuarded(env)) {
    if (isProductionLike(env)) installFetchGuard(true)
    return
  }
  installGuard(env)
  guardSql(ctx.storage.sql)
  guardMethods(Object.getPrototypeOf(object) as object, env)
}

/**
 * Wraps the bindings found in `env` (D1 databases, Queue producers) and the global fetch, once per isolate. Also
 * called by the tests' setup file, so a test calling a service directly has its statements checked too (it is
 * not an invocation: nothing is counted).
 */
export function installGuard(env: object): void {
  installFetchGuard(false)
  for (const binding of Object.values(env)) {
    if (hasOwnMethods(binding, 'prepare', 'batch')) guardD1(binding as D1Database)
    else if (hasOwnMethods(binding, 'send', 'sendBatch')) guardQueue(binding as Queue)
  }
}

// ---- counting ----

/** Every refusal since the last takeRefusals(): code that catches the error (a retry, a log line) must not hide it. */
const refusals: string[] = []

function limitError(what: string): Error {
  const message = `Platform limit exceeded: ${what} (see workers/src/platform/limits.ts)`
  refusals.push(message)
  return new Error(message)
}

/** The refusals since the last call; the tests' setup file fails a test that left one it did not take. */
export function takeRefusals(): string[] {
  return refusals.splice(0)
}

/** Spends queries and subrequests of the current invocation; outside one (a test calling a service) counts nothing. */
function spend(d1Queries: number, subrequests: number): void {
  const current = invocations.getStore()
  if (!current) return
  current.d1Queries += d1Queries
  current.subrequests += subrequests
  if (current.d1Queries > D1_MAX_QUERIES_PER_INVOCATION) {
    throw limitError(`${current.d1Queries} D1 queries in one invocation, production allows ${D1_MAX_QUERIES_PER_INVOCATION}`)
  }
  if (current.subrequests > MAX_SUBREQUESTS_PER_INVOCATION) {
    throw limitError(`${current.subrequests} subrequests in one invocation, production allows ${MAX_SUBREQUESTS_PER_INVOCATION}`)
  }
}

type StatementLimits = { kind: string; maxParameters: number; maxStatementBytes: number; maxValueBytes: number }
const D1: StatementLimits = { kind: 'D1', maxParameters: D1_MAX_BOUND_PARAMETERS, maxStatementBytes: D1_MAX_STATEMENT_BYTES, maxValueBytes: D1_MAX_VALUE_BYTES }
const DO_SQL: StatementLimits = {
  kind: 'Durable Object SQL',
  maxParameters: DO_SQL_MAX_BOUND_PARAMETERS,
  maxStatementBytes: DO_SQL_MAX_STATEMENT_BYTES,
  maxValueBytes: DO_SQL_MAX_VALUE_BYTES,
}

const encoder = new TextEncoder()
/** At most 3 UTF-8 bytes per UTF-16 unit: only a long string is encoded to measure it. */
const exceedsBytes = (text: string, max: number) => text.length * 3 > max && encoder.encode(text).byteLength > max
const valueBytes = (value: unknown): number =>
  typeof value === 'string'
    ? value.length * 3 > D1_MAX_VALUE_BYTES
      ? encoder.encode(value).byteLength
      : value.length
    : value instanceof ArrayBuffer || ArrayBuffer.isView(value)
      ? value.byteLength
      : 0

function checkStatement(limits: StatementLimits, sql: string, values: readonly unknown[]): void {
  const head = sql.replace(/\s+/g, ' ').trim().slice(0, 80)
  if (values.length > limits.maxParameters) {
    throw limitError(`${values.length} bound parameters in one ${limits.kind} statement, production allows ${limits.maxParameters}: ${head}`)
  }
  if (exceedsBytes(sql, limits.maxStatementBytes)) {
    throw limitError(`a ${limits.kind} statement longer than ${limits.maxStatementBytes} bytes: ${head}`)
  }
  const large = values.find((v) => valueBytes(v) > limits.maxValueBytes)
  if (large !== undefined) {
    throw limitError(`a ${limits.kind} value of ${valueBytes(large)} bytes, production allows ${limits.maxValueBytes}: ${head}`)
  }
}

// ---- wrapping (each prototype once per isolate) ----

const GUARDED = Symbol.for('cic.platformGuard')

function hasOwnMethods(value: unknown, ...names: string[]): boolean {
  if (typeof value !== 'object' || value === null) return false
  const proto: unknown = Object.getPrototypeOf(value)
  // Own properties of the prototype: an RPC stub answers any property name with a function, and must not match.
  return typeof proto === 'object' && proto !== null && names.every((n) => typeof Object.getOwnPropertyDescriptor(proto, n)?.value === 'function')
}

/** Marks `proto` as wrapped; false when it already was. */
function claim(proto: object): boolean {
  if (Object.hasOwn(proto, GUARDED)) return false
  Object.defineProperty(proto, GUARDED, { value: true })
  return true
}

type Method = (this: unknown, ...args: unknown[]) => unknown
function wrap(proto: object, name: string, around: (original: Method) => Method): void {
  const original = Reflect.get(proto, name) as Method
  Object.defineProperty(proto, name, { value: around(original), writable: true, configurable: true, enumerable: false })
}

/** An async method's wrapper: a refusal rejects its promise, as the real call would. */
const spending =
  (d1Queries: (args: unknown[]) => number) =>
  (original: Method): Method =>
    function (this: unknown, ...args: unknown[]) {
      try {
        spend(d1Queries(args), 1) // one D1 call is one subrequest, whatever it carries
      } catch (err) {
        return Promise.reject(err)
      }
      return original.apply(this, args)
    }

function guardD1(db: D1Database): void {
  const dbProto = Object.getPrototypeOf(db) as object
  if (!claim(dbProto)) return
  const statementProto = Object.getPrototypeOf(db.prepare('SELECT 1')) as object
  wrap(
    dbProto,
    'prepare',
    (original) =>
      function (this: unknown, ...args: unknown[]) {
        checkStatement(D1, String(args[0]), [])
        return original.apply(this, args)
      },
  )
  wrap(
    dbProto,
    'batch',
    spending((args) => (Array.isArray(args[0]) ? args[0].length : 1)),
  )
  wrap(
    dbProto,
    'exec',
    spending((args) => String(args[0]).trim().split('\n').length),
  ) // exec runs one statement per line
  wrap(
    statementProto,
    'bind',
    (original) =>
      function (this: unknown, ...values: unknown[]) {
        checkStatement(D1, String(Reflect.get(this as object, 'statement')), values)
        return original.apply(this, values)
      },
  )
  for (const name of ['first', 'run', 'all', 'raw'])
    wrap(
      statementProto,
      name,
      spending(() => 1),
    )
}

function guardSql(sql: SqlStorage): void {
  const proto = Object.getPrototypeOf(sql) as object
  if (!claim(proto)) return
  wrap(
    proto,
    'exec',
    (original) =>
      function (this: unknown, ...args: unknown[]) {
        checkStatement(DO_SQL, String(args[0]), args.slice(1))
        return original.apply(this, args)
      },
  )
}

function guardQueue(queue: Queue): void {
  const proto = Object.getPrototypeOf(queue) as object
  if (!claim(proto)) return
  for (const name of ['send', 'sendBatch']) {
    wrap(
      proto,
      name,
      (original) =>
        function (this: unknown, ...args: unknown[]) {
          try {
            spend(0, 1)
          } catch (err) {
            return Promise.reject(err)
          }
          return original.apply(this, args)
        },
    )
  }
}

/**
 * Each method of a Durable Object class runs as its own invocation, unless the object calls itself (a method
 * calling another of the same object stays in its caller's invocation).
 */
function guardMethods(proto: object, env: GuardEnv): void {
  if (!claim(proto)) return
  for (const name of Object.getOwnPropertyNames(proto)) {
    const value: unknown = Object.getOwnPropertyDescriptor(proto, name)?.value
    if (name === 'constructor' || typeof value !== 'function') continue
    wrap(
      proto,
      name,
      (original) =>
        function (this: unknown, ...args: unknown[]) {
          const self = this as object
          if (invocations.getStore()?.owner === self) return original.apply(self, args)
          return invocations.run(start(env, self), () => original.apply(self, args))
        },
    )
  }
}

let isolateRefusesIpLiterals = false
let fetchInstalled = false

/**
 * Wraps the global fetch once per isolate. Inside an invocation its environment decides whether an IP address is
 * refused; outside one (production, where no invocation is tracked) the isolate's environment does.
 */
function installFetchGuard(isProductionIsolate: boolean): void {
  if (isProductionIsolate) isolateRefusesIpLiterals = true
  if (fetchInstalled) return
  fetchInstalled = true
  globalThis.fetch = guardFetch(globalThis.fetch, {
    refusesIpLiterals: () => invocations.getStore()?.refusesIpLiterals ?? isolateRefusesIpLiterals,
    onSubrequest: () => spend(0, 1),
  })
}
