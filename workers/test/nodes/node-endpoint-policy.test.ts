// The endpoint policy wired into POST /admin/nodes and POST /nodes/register: the Worker is called with the test
// bindings switched to production (strong secrets, NODES_ZONE set), so the refusals are the real route's 400
// naming `endpoint`; in the test environment itself local endpoints keep working.
import { describe, expect, it } from 'vitest'
import { admin } from '../helpers/gateway.ts'
import { postToWorker, productionEnv } from '../helpers/production.ts'

const STRONG_ADMIN = `prod-admin-${'a'.repeat(40)}`
const prodEnv = productionEnv({ ADMIN_TOKEN: STRONG_ADMIN, NODES_ZONE: 'nodes.example.com' })
const prodCall = (path: string, json: unknown, authorization: string) => postToWorker(prodEnv, path, json, authorization)

describe('node endpoint policy on the routes', () => {
  it.each([
    ['http://127.0.0.1:8000', /loopback address/],
    ['https://10.0.0.5', /private address/],
    ['https://[fe80::1]', /link-local address/],
    ['https://node.internal', /internal name/],
    ['http://cic-1.nodes.example.com', /must be https/],
    ['https://cic-1.elsewhere.example.net', /not under the nodes zone 'nodes.example.com'/],
  ])('POST /admin/nodes refuses %s in production with a 400 naming endpoint', async (endpoint, message) => {
    const res = await prodCall('/admin/nodes', { endpoint, models: ['m'] }, `Bearer ${STRONG_ADMIN}`)
    expect(res.status).toBe(400)
    const { error } = (await res.json()) as { error: { param: string; code: string; message: string } }
    expect(error).toMatchObject({ param: 'endpoint', code: 'invalid_endpoint' })
    expect(error.message).toMatch(message)
  })

  it('POST /nodes/register refuses a loopback endpoint in production with a 400 naming endpoint', async () => {
    const res = await prodCall(
      '/nodes/register',
      { cluster_name: 'cic-a100-00000000', endpoint: 'http://127.0.0.1:8000', models: ['m'] },
      `Bearer cicreg_${'t'.repeat(43)}`,
    )
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { param: 'endpoint', code: 'invalid_endpoint', message: expect.stringMatching(/loopback/) } })
  })

  it('in the test environment local endpoints are accepted', async () => {
    const res = await admin('/admin/nodes', {
      method: 'POST',
      json: { endpoint: 'http://127.0.0.1:1', models: ['policy-local-model'], name: 'policy-local-node' },
    })
    expect(res.status).toBe(201)
  })
})
