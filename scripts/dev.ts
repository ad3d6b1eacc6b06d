// `npm run dev`: the whole product on this machine, with no cloud account (see dev-stack.ts), and a
// ready-to-paste curl and openai snippet for the seeded demo key.
import path from 'node:path'
import { startDevStack } from './dev-stack.ts'

const stack = await startDevStack({
  port: Number(process.env.PORT ?? 8787),
  standinPort: Number(process.env.STANDIN_PORT ?? 8000),
  persistTo: path.resolve(import.meta.dirname, '..', '.dev-state'),
})
const { url, demo } = stack
console.log(`
CIC is running.
  gateway        ${url}/v1           (OpenAI-compatible, demo key below)
  admin API      ${url}/admin        (Authorization: Bearer <ADMIN_TOKEN from .dev.vars>)
  metrics        ${url}/metrics      (Authorization: Bearer <METRICS_TOKEN from .dev.vars>)
  vLLM stand-in  ${stack.standin.url}   (serves ${demo.model}, cic-demo-embed)

Demo tenant ${demo.tenantId}, API key (shown once):
  ${demo.key}

curl ${url}/v1/chat/completions \\
  -H "Authorization: Bearer ${demo.key}" -H "Content-Type: application/json" \\
  -d '{"model":"${demo.model}","messages":[{"role":"user","content":"Hello!"}],"stream":true}'

node --input-type=module -e '
import OpenAI from "openai";
const client = new OpenAI({ baseURL: "${url}/v1", apiKey: "${demo.key}" });
const r = await client.chat.completions.create({ model: "${demo.model}", messages: [{ role: "user", content: "Hello!" }] });
console.log(r.choices[0].message.content, r.usage);'

Press Ctrl+C to stop.`)

const stop = async () => { await stack.close(); process.exit(0) }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
