// CLI for the vLLM stand-in (`npm run vllm-standin -- --port 8000 --ttft-ms 50 --tps 100`): parses
// flags, starts the server, prints its URL, and shuts down cleanly on SIGINT/SIGTERM.

import { parseArgs } from 'node:util'
import { applyKnobPatch, DEFAULT_KNOBS } from './knobs.ts'
import type { Knobs } from './knobs.ts'
import { startStandin } from './server.ts'

const USAGE = `Usage: node scripts/vllm-standin/main.ts [options]
  --port <n>               listen port (default 8000; 0 = random)
  --host <addr>            listen address (default 127.0.0.1)
  --model <name>           generation model, repeatable (default cic-demo-llm)
  --embedding-model <name> embedding model, repeatable (default cic-demo-embed)
  --max-model-len <n>      context length (default 8192)
  --api-key <key>          require "Authorization: Bearer <key>" on /v1/*
  --ttft-ms <n>            delay before the first token
  --tps <n>                tokens per second (0 = no delay)
  --answer-tokens <n>      natural answer length in tokens (default 16)
  --fail <mode>            none | http500 | reset | hang | midstream-error | stall
  --fail-after-tokens <n>  tokens sent before reset / midstream-error / stall (default 2)
  --error-format <f>       current | legacy
  --omit-usage             send no usage block (JSON bodies and SSE)`

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8000' },
    host: { type: 'string', default: '127.0.0.1' },
    model: { type: 'string', multiple: true },
    'embedding-model': { type: 'string', multiple: true },
    'max-model-len': { type: 'string' },
    'api-key': { type: 'string' },
    'ttft-ms': { type: 'string' },
    tps: { type: 'string' },
    'answer-tokens': { type: 'string' },
    fail: { type: 'string' },
    'fail-after-tokens': { type: 'string' },
    'error-format': { type: 'string' },
    'omit-usage': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
})

if (values.help) {
  console.log(USAGE)
  process.exit(0)
}

function integerFlag(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got ${raw}\n\n${USAGE}`)
    process.exit(2)
  }
  return n
}

// Knob flags go through the same parsers as the x-standin-* headers.
const knobFlags: Record<string, string | boolean | undefined> = {
  ttftMs: values['ttft-ms'],
  tokensPerSecond: values.tps,
  answerTokens: values['answer-tokens'],
  fail: values.fail,
  failAfterTokens: values['fail-after-tokens'],
  errorFormat: values['error-format'],
  omitUsage: values['omit-usage'],
}
const knobs: Knobs = { ...DEFAULT_KNOBS }
const knobProblem = applyKnobPatch(knobs, Object.fromEntries(Object.entries(knobFlags).filter(([, v]) => v !== undefined)))
if (knobProblem) {
  console.error(`${knobProblem}\n\n${USAGE}`)
  process.exit(2)
}

try {
  const standin = await startStandin({
    port: integerFlag('port', values.port),
    host: values.host,
    models: values.model,
    embeddingModels: values['embedding-model'],
    maxModelLen: integerFlag('max-model-len', values['max-model-len']),
    apiKey: values['api-key'],
    knobs,
  })
  console.log(`vllm-standin listening on ${standin.url}`)
  const shutDown = () => {
    standin.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.once('SIGINT', shutDown)
  process.once('SIGTERM', shutDown)
} catch (error) {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
}
