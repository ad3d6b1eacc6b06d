// `npm run dev`: the whole product on this machine, with no cloud account (see dev-stack.ts), and a
// ready-to-paste curl and openai snippet for the seeded demo key.
import net from 'node:net'
import path from 'node:path'
import { startDevStack } from './dev-stack.ts'

const port = Number(process.env.PORT ?? 8787)
const standinPort = Number(process.env.STANDIN_PORT ?? 8000)

/** A clear word instead of a stack trace when another `npm run dev` (or anything else) holds a port. */
async function assertPortFree(p: number, envName: string): Promise<void> {
  const server = net.createServer()
  const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    server.once('error', resolve)
    server.listen(p, '127.0.0.1', () => server.close(() => resolve(null)))
  })
  if (error) {
    console.error(`Port ${p} on 127.0.0.1 is not free (${error.code}): is another \`npm run dev\` running? Stop it, or set ${envName}=<port>.`)
    process.exit(1)
  }
}
await assertPortFree(port, 'PORT')
await assertPortFree(standinPort, 'STANDIN_PORT')

const stack = await startDevStack({
  port,
  standinPort,
  persistTo: path.resolve(import.meta.dirname, '..', '.dev-state'),
})
const { url, demo } = stack
console.log(`
CIC is running.
  gateway        ${url}/v1           (OpenAI-compatible, demo key below)
  admin API      ${url}/admin        (Authorization: Bearer <ADMIN_TOKEN from .dev.vars>)
  metrics        ${url}/metrics      (Authorization: Bearer <METRICS_TOKEN from .dev.vars>)
  console        ${url}/dashboard    (Sign in with Google goes to a local stand-in: any email; ops@cic.local is an operator)
  OIDC stand-in  ${stack.oidc.url}
  Stripe stand-in ${stack.stripe.url}   (STRIPE_API_BASE: Checkout and portal pages; signed webhooks back to the gateway)
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

const stop = async () => {
  await stack.close()
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
