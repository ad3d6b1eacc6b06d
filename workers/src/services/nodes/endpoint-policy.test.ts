// Node endpoint policy: production-like environments accept only https hosts under NODES_ZONE and never a
// private, loopback or link-local host (IPv4, IPv6, names); dev and tests accept local nodes.
import { describe, expect, it } from 'vitest'
import { endpointProblem, specialHost } from './endpoint-policy.ts'

const prod = { ENVIRONMENT: 'production', NODES_ZONE: 'nodes.example.com' }

describe('endpointProblem', () => {
  it.each(['https://cic-a100-1a2b3c4d.nodes.example.com', 'https://a.b.nodes.example.com:8443', 'https://X.Nodes.Example.com'])(
    'accepts %s in production',
    (endpoint) => {
      expect(endpointProblem(endpoint, prod)).toBeNull()
      expect(endpointProblem(endpoint, { ...prod, ENVIRONMENT: 'staging' })).toBeNull()
    },
  )

  it.each([
    ['http://cic-1.nodes.example.com', /must be https/],
    ['https://nodes.example.com', /not under the nodes zone/],
    ['https://cic-1.nodes.example.com.evil.net', /not under the nodes zone/],
    ['https://evilnodes.example.com', /not under the nodes zone/],
    ['https://example.com', /not under the nodes zone/],
    ['https://user:pw@cic-1.nodes.example.com', /credentials/],
    ['https://203.0.113.7', /not under the nodes zone/], // a public IP literal: a Worker cannot fetch it anyway
    ['https://127.0.0.1:8000', /loopback address/],
    ['http://127.0.0.1:8000', /loopback address/],
    ['https://2130706433', /loopback address/], // 127.0.0.1 written as one number
    ['https://0x7f.0.0.1', /loopback address/],
    ['https://10.1.2.3', /private address/],
    ['https://172.16.0.1', /private address/],
    ['https://172.31.255.255', /private address/],
    ['https://192.168.1.10', /private address/],
    ['https://169.254.169.254', /link-local address/], // cloud metadata service
    ['https://100.64.0.1', /carrier-grade NAT/],
    ['https://0.0.0.0', /unspecified/],
    ['https://[::1]', /loopback address/],
    ['https://[::]', /unspecified/],
    ['https://[fd00::1]', /unique local/],
    ['https://[fc12:3456::1]', /unique local/],
    ['https://[fe80::1]', /link-local address/],
    ['https://[::ffff:127.0.0.1]', /loopback address/],
    ['https://[::ffff:10.0.0.1]', /private address/],
    ['https://[64:ff9b::a9fe:a9fe]', /link-local address/],
    ['https://localhost', /loopback name/],
    ['https://api.localhost', /loopback name/],
    ['https://printer.local', /link-local \(mDNS\) name/],
    ['https://metadata.google.internal', /internal name/],
    ['https://cic-1.nodes.example.com.local', /link-local/],
  ])('refuses %s in production', (endpoint, message) => {
    expect(endpointProblem(endpoint, prod)).toMatch(message)
  })

  it('refuses every endpoint in production-like environments while NODES_ZONE is empty, naming the variable', () => {
    expect(endpointProblem('https://cic-1.nodes.example.com', { ENVIRONMENT: 'production', NODES_ZONE: '' })).toMatch(/NODES_ZONE is not set/)
    expect(endpointProblem('https://cic-1.nodes.example.com', { NODES_ZONE: '' })).toMatch(/NODES_ZONE/) // unset ENVIRONMENT is production
  })

  it.each(['development', 'test'])('accepts local nodes in %s', (ENVIRONMENT) => {
    for (const endpoint of ['http://127.0.0.1:8000', 'http://localhost:8001', 'http://10.1.1.1:8000', 'http://[::1]:8000']) {
      expect(endpointProblem(endpoint, { ENVIRONMENT, NODES_ZONE: '' })).toBeNull()
    }
  })
})

describe('specialHost', () => {
  it('leaves public names and addresses alone', () => {
    for (const host of ['example.com', '8.8.8.8', '172.32.0.1', '100.128.0.1', '[2606:4700::1111]', '[::ffff:8.8.8.8]', 'localhost.example.com']) {
      expect(specialHost(host), host).toBeNull()
    }
  })
})
