// Validates a SkyPilot task against SkyPilot's own JSON schema (task-schema.json here: `task_merged`, extracted
// from sky/utils/schemas.py @93a24d47, see /work/shared/skypilot/README.md). Used by the SkyPilot stand-in and
// by orchestrator-runner's tests. Two honest adaptations, both documented where they happen:
//  - `case_insensitive_enum` is SkyPilot's own keyword; it is implemented here with SkyPilot's meaning.
//  - Python's scoped inline flag `(?i:...)` in the `infra` pattern is not valid in Node 22's RegExp; such groups
//    are rewritten to the equivalent explicit two-case character classes before compiling.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'

const SCHEMA_FILE = path.join(import.meta.dirname, 'task-schema.json')

/**
 * Rewrites every `(?i:X)` group into `(?:X')` where each ASCII letter of X becomes `[xX]`. Escapes and character
 * classes inside X are copied unchanged; that is exact for the patterns in SkyPilot's schema, which have neither
 * inside their `(?i:...)` groups (a letter class inside one would throw here rather than be silently wrong).
 */
export function expandCaseInsensitiveGroups(pattern: string): string {
  let out = ''
  let i = 0
  while (i < pattern.length) {
    if (pattern.startsWith('(?i:', i)) {
      out += '(?:'
      i += 4
      let depth = 1
      while (i < pattern.length && depth > 0) {
        const ch = pattern[i] as string
        if (ch === '\\') {
          out += pattern.slice(i, i + 2)
          i += 2
          continue
        }
        if (ch === '[') throw new Error(`character class inside (?i:...) is not supported: ${pattern}`)
        if (ch === '(') depth++
        if (ch === ')') depth--
        out += /[a-z]/i.test(ch) ? `[${ch.toLowerCase()}${ch.toUpperCase()}]` : ch
        i++
      }
      continue
    }
    if (pattern[i] === '\\') {
      out += pattern.slice(i, i + 2)
      i += 2
      continue
    }
    out += pattern[i]
    i++
  }
  return out
}

function rewritePatterns(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewritePatterns)
  if (!node || typeof node !== 'object') return node
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => [
      key,
      key === 'pattern' && typeof value === 'string' && value.includes('(?i:') ? expandCaseInsensitiveGroups(value) : rewritePatterns(value),
    ]),
  )
}

let compiled: ValidateFunction | null = null

export function taskValidator(): ValidateFunction {
  if (compiled) return compiled
  const schemas = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as { task_merged: object }
  const ajv = new Ajv2020({ allErrors: true, strict: false })
  // SkyPilot's custom keyword (sky/utils/common_utils.py): the value must equal one of the options, ignoring case.
  ajv.addKeyword({
    keyword: 'case_insensitive_enum',
    type: 'string',
    schemaType: 'array',
    validate: (options: string[], data: string) => options.some((o) => o.toLowerCase() === data.toLowerCase()),
  })
  compiled = ajv.compile(rewritePatterns(schemas.task_merged) as object)
  return compiled
}

/** Null when the task is valid, else Ajv's errors as one readable line each. */
export function validateTask(task: unknown): string[] | null {
  const validate = taskValidator()
  if (validate(task)) return null
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'} ${JSON.stringify(e.params)}`.slice(0, 300))
}
