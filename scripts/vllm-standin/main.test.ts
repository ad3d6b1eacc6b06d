// The CLI starts a working stand-in, prints its URL, validates flags, and exits cleanly on SIGTERM.

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { postJson } from './test-client.ts'

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url))

describe('main.ts', () => {
  it('serves the given models with the given knobs and exits 0 on SIGTERM', async () => {
    // process.execPath is the Node running vitest (22+), which can run .ts files directly.
    const child = spawn(process.execPath, [MAIN, '--port', '0', '--model', 'cli-llm', '--api-key', 'k', '--answer-tokens', '2'])
    try {
      const [line] = (await once(child.stdout, 'data')) as [Buffer]
      const url = /http:\/\/\S+/.exec(line.toString())?.[0] ?? ''
      const res = await postJson(url, '/v1/completions', { prompt: 'a b c' }, { authorization: 'Bearer k' })
      expect(await res.json()).toMatchObject({ model: 'cli-llm', choices: [{ text: 'a b ' }] })
      child.kill('SIGTERM')
      expect(await once(child, 'exit')).toEqual([0, null])
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  })

  it('rejects a bad knob flag with exit code 2', async () => {
    const child = spawn(process.execPath, [MAIN, '--fail', 'explode'])
    expect((await once(child, 'exit'))[0]).toBe(2)
  })
})
