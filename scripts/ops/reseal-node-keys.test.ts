// The SECRETS_KEY rotation's re-seal: rows sealed with the old key come out sealed with the new one (and the same
// plaintext), rows already on the new key are left alone, rows neither key opens are reported; the SQL applies
// only to a row that still holds the ciphertext it was planned from. Drives the real script end to end too.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { open, seal } from '../../workers/src/db/secret-box.ts'
import { planReseal, rowsFromD1Json } from './reseal-node-keys.ts'

const OLD = 'old-secrets-key-0123456789'
const NEW = 'new-secrets-key-9876543210'
const ciphertextIn = (statement: string) => /api_key_ciphertext = '([^']+)' WHERE/.exec(statement)?.[1] ?? ''

describe('reseal-node-keys', () => {
  it('re-seals old-key rows under the new key, skips new-key rows, reports unreadable ones', async () => {
    const rows = [
      { id: 'n-old', api_key_ciphertext: await seal(OLD, 'vllm-key-a') },
      { id: 'n-new', api_key_ciphertext: await seal(NEW, 'vllm-key-b') },
      { id: 'n-other', api_key_ciphertext: await seal('some-other-key-000000', 'vllm-key-c') },
      { id: 'n-none', api_key_ciphertext: null },
    ]
    const plan = await planReseal(rows, OLD, NEW)
    expect(plan.alreadyNew).toEqual(['n-new'])
    expect(plan.unreadable).toEqual(['n-other'])
    expect(plan.statements).toHaveLength(1)
    const [statement] = plan.statements
    expect(statement).toContain(`WHERE id = 'n-old' AND api_key_ciphertext = '${rows[0]!.api_key_ciphertext}';`)
    expect(await open(NEW, ciphertextIn(statement!))).toBe('vllm-key-a')
    await expect(open(OLD, ciphertextIn(statement!))).rejects.toThrow()
  })

  it('reads wrangler d1 execute --json output', () => {
    const text = JSON.stringify([{ results: [{ id: 'a', api_key_ciphertext: 'x.y' }], success: true, meta: { duration: 1 } }])
    expect(rowsFromD1Json(text)).toEqual([{ id: 'a', api_key_ciphertext: 'x.y' }])
  })

  it('runs as a script: SQL on stdout, a summary on stderr, exit 1 when a row is unreadable', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'reseal-'))
    const file = path.join(dir, 'rows.json')
    writeFileSync(
      file,
      JSON.stringify([
        {
          results: [
            { id: 'n1', api_key_ciphertext: await seal(OLD, 'k1') },
            { id: 'n2', api_key_ciphertext: await seal('another-key-0000000000', 'k2') },
          ],
        },
      ]),
    )
    const script = path.join(import.meta.dirname, 'reseal-node-keys.ts')
    const r = spawnSync(process.execPath, [script, file], { encoding: 'utf8', env: { ...process.env, OLD_SECRETS_KEY: OLD, NEW_SECRETS_KEY: NEW } })
    expect(r.stderr).toContain('re-sealed: 1, already on the new key: 0, unreadable: 1')
    expect(r.stdout.trim().split('\n')).toHaveLength(1)
    expect(await open(NEW, ciphertextIn(r.stdout))).toBe('k1')
    expect(r.status).toBe(1)
    expect(() => execFileSync(process.execPath, [script], { stdio: 'pipe' })).toThrow() // no file, no keys: usage, exit 2
  })
})
