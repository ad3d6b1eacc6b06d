// The Access service-token headers sent to nodes: only with both values set, to any node in dev and tests, and
// in production-like environments only to hosts under NODES_ZONE (a node registered elsewhere never sees them).
import { describe, expect, it } from 'vitest'
import { nodeAccessHeaders } from './node-access.ts'

const CREDS = { CF_ACCESS_CLIENT_ID: 'id.access', CF_ACCESS_CLIENT_SECRET: 'secret' }
const SENT = { 'cf-access-client-id': 'id.access', 'cf-access-client-secret': 'secret' }

describe('nodeAccessHeaders', () => {
  it('sends the service token to a launched node under NODES_ZONE in production', () => {
    expect(nodeAccessHeaders('https://cic-a1.nodes.example.com', { ...CREDS, ENVIRONMENT: 'production', NODES_ZONE: 'nodes.example.com' })).toEqual(SENT)
    expect(nodeAccessHeaders('https://cic-a1.NODES.example.com', { ...CREDS, ENVIRONMENT: 'staging', NODES_ZONE: 'nodes.example.com' })).toEqual(SENT)
  })

  it('never sends it outside the zone in production (an admin-registered node elsewhere), nor with no zone', () => {
    expect(nodeAccessHeaders('https://node.elsewhere.net', { ...CREDS, ENVIRONMENT: 'production', NODES_ZONE: 'nodes.example.com' })).toEqual({})
    expect(nodeAccessHeaders('https://evilnodes.example.com', { ...CREDS, ENVIRONMENT: 'production', NODES_ZONE: 'nodes.example.com' })).toEqual({})
    expect(nodeAccessHeaders('https://cic-a1.nodes.example.com', { ...CREDS, ENVIRONMENT: 'production', NODES_ZONE: '' })).toEqual({})
    expect(nodeAccessHeaders('https://cic-a1.nodes.example.com', { ...CREDS, NODES_ZONE: 'nodes.example.com.evil.net' })).toEqual({})
  })

  it('sends it to local nodes in dev and tests (the tunnel stand-in plays Access there)', () => {
    expect(nodeAccessHeaders('http://127.0.0.1:8791/cic-a1.nodes.cic.test', { ...CREDS, ENVIRONMENT: 'development' })).toEqual(SENT)
  })

  it('sends nothing while either value is unset', () => {
    expect(nodeAccessHeaders('http://127.0.0.1:1', { CF_ACCESS_CLIENT_ID: 'id', ENVIRONMENT: 'development' })).toEqual({})
    expect(nodeAccessHeaders('http://127.0.0.1:1', { ENVIRONMENT: 'test' })).toEqual({})
  })
})
