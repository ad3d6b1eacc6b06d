// Re-seals node API keys (nodes.api_key_ciphertext) from one SECRETS_KEY to another, for the rotation runbook
// (docs/runbooks/rotate-secrets-key.md). CIC seals with one key and no key id (workers/src/services/nodes/
// secret-box.ts), so a rotation must rewrite every sealed row. Reads the JSON of
//   wrangler d1 execute DB --remote --json --command "SELECT id, api_key_ciphertext FROM nodes WHERE api_key_ciphertext IS NOT NULL"
// and prints one compare-and-set UPDATE per row for `wrangler d1 execute DB --remote --file`.
// Usage: OLD_SECRETS_KEY=... NEW_SECRETS_KEY=... node scripts/ops/reseal-node-keys.ts rows.json > reseal.sql
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { open, seal } from '../../workers/src/db/secret-box.ts'

const d1JsonSchema = z.array(
  z.object({
    results: z.array(z.object({ id: z.string(), api_key_ciphertext: z.string().nullable() })),
  }),
)
export type SealedRow = { id: string; api_key_ciphertext: string | null }

export type ResealPlan = {
  /** One UPDATE per row sealed with the old key; it only applies if the row still holds that ciphertext. */
  statements: string[]
  /** Rows already sealed with the new key (a second run after a partial rotation). */
  alreadyNew: string[]
  /** Rows neither key opens: their node's key must be set again by hand (register the node anew). */
  unreadable: string[]
}

const quote = (text: string) => `'${text.replaceAll("'", "''")}'`

async function opens(secret: string, box: string): Promise<string | null> {
  try {
    return await open(secret, box)
  } catch {
    return null
  }
}

export async function planReseal(rows: readonly SealedRow[], oldKey: string, newKey: string): Promise<ResealPlan> {
  const plan: ResealPlan = { statements: [], alreadyNew: [], unreadable: [] }
  for (const row of rows) {
    const box = row.api_key_ciphertext
    if (box === null) continue
    if ((await opens(newKey, box)) !== null) {
      plan.alreadyNew.push(row.id)
      continue
    }
    const plain = await opens(oldKey, box)
    if (plain === null) {
      plan.unreadable.push(row.id)
      continue
    }
    plan.statements.push(
      `UPDATE nodes SET api_key_ciphertext = ${quote(await seal(newKey, plain))} ` + `WHERE id = ${quote(row.id)} AND api_key_ciphertext = ${quote(box)};`,
    )
  }
  return plan
}

export const rowsFromD1Json = (text: string): SealedRow[] => d1JsonSchema.parse(JSON.parse(text)).flatMap((r) => r.results)

async function main(): Promise<number> {
  const [file] = process.argv.slice(2)
  const oldKey = process.env.OLD_SECRETS_KEY ?? ''
  const newKey = process.env.NEW_SECRETS_KEY ?? ''
  if (!file || !oldKey || !newKey || oldKey === newKey) {
    process.stderr.write('usage: OLD_SECRETS_KEY=... NEW_SECRETS_KEY=... node scripts/ops/reseal-node-keys.ts rows.json > reseal.sql\n')
    return 2
  }
  const plan = await planReseal(rowsFromD1Json(readFileSync(file, 'utf8')), oldKey, newKey)
  for (const statement of plan.statements) process.stdout.write(`${statement}\n`)
  process.stderr.write(`re-sealed: ${plan.statements.length}, already on the new key: ${plan.alreadyNew.length}, unreadable: ${plan.unreadable.length}\n`)
  for (const id of plan.unreadable) process.stderr.write(`unreadable with either key: node ${id}\n`)
  return plan.unreadable.length > 0 ? 1 : 0
}

if (import.meta.filename === process.argv[1]) process.exitCode = await main()
