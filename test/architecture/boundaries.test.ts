// The Worker ⇄ Durable Object boundary, checked on the import statements of every source file (tests excluded):
// the Worker reaches a Durable Object's folder only through its contract.ts (workers/src/index.ts wires the
// classes), and a Durable Object imports from workers/src only the layer both sides share (platform/, log.ts,
// read-capped.ts, db/, schemas/), never services, routes, middleware or the Worker's config. Import cycles are
// checked by `npm run check:cycles` (madge), run by `npm test`.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(import.meta.dirname, '..', '..')

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(rel)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [rel] : []
  })
}

/** Every relative import (static, `import type` and `export … from` included) of a file, resolved from the root. */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8')
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/g)].map((m) => m[1] as string)
  return specs.map((spec) => path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec)))
}

/** The layer of workers/src both sides may import: no request context, nothing from services, routes or middleware. */
const SHARED = [/^workers\/src\/platform\//, /^workers\/src\/log\.ts$/, /^workers\/src\/read-capped\.ts$/, /^workers\/src\/db\//, /^workers\/src\/schemas\//]

/** Known debt, listed so it cannot grow (empty now: add nothing; remove a line when its import goes). */
const KNOWN = new Set<string>([])

describe('Worker and Durable Object boundary', () => {
  it('the Worker imports a Durable Object folder only through its contract.ts (the entry wires the classes)', () => {
    const crossings = sourceFiles('workers/src')
      .filter((file) => file !== 'workers/src/index.ts')
      .flatMap((file) =>
        importsOf(file)
          .filter((target) => target.startsWith('durable-objects/') && !target.endsWith('/contract.ts'))
          .map((target) => `${file} -> ${target}`),
      )
    expect(crossings).toEqual([])
  })

  it('a Durable Object imports from workers/src only the shared layer', () => {
    const crossings = sourceFiles('durable-objects')
      .flatMap((file) =>
        importsOf(file)
          .filter((target) => target.startsWith('workers/') && !SHARED.some((re) => re.test(target)))
          .map((target) => `${file} -> ${target}`),
      )
      .filter((crossing) => !KNOWN.has(crossing))
    expect(crossings).toEqual([])
  })

  it('finds the imports it checks (the scan is not empty)', () => {
    expect(importsOf('workers/src/services/admission/admit-request.ts')).toContain('durable-objects/tenant-gate/contract.ts')
    expect(importsOf('durable-objects/node-monitor/node-monitor.ts')).toContain('workers/src/platform/guard.ts')
  })
})
