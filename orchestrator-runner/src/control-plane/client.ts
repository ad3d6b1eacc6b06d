// The runner's only way to change node state: the Worker's /runner endpoints (RUNNER_TOKEN). Expected answers
// come back as values (not found, conflict); anything that may pass with time (network, 5xx, 429) throws
// TransientError so the job is retried soon instead of failing the node.
import {
  nodeCredentialsSchema,
  runnerStatusResultSchema,
  type NodeCredentials,
  type NodeStatus,
  type RunnerStatusReport,
} from '../../../workers/src/schemas/node-ops.ts'

export class TransientError extends Error {}

/** `previousStatus`: the node's status before the report (equal to `status` when it was not applied). */
export type ReportResult = { found: true; status: NodeStatus; applied: boolean; previousStatus: NodeStatus } | { found: false }
export type MintResult = { ok: true; credentials: NodeCredentials } | { ok: false; reason: 'not_found' | 'not_launching'; message: string }

export type ControlPlane = {
  reportStatus(clusterName: string, report: RunnerStatusReport): Promise<ReportResult>
  /** `endpoint`: the node's endpoint on the private path, the only one its registration will be accepted with. */
  mintCredentials(clusterName: string, endpoint: string): Promise<MintResult>
}

export type ControlPlaneOptions = { baseUrl: string; runnerToken: string; fetch?: typeof fetch; timeoutMs?: number }

export function createControlPlane(options: ControlPlaneOptions): ControlPlane {
  const doFetch = options.fetch ?? fetch

  async function post(path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    let res: Response
    try {
      res = await doFetch(`${options.baseUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.runnerToken}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      })
    } catch (err) {
      throw new TransientError(`control plane unreachable (${path}): ${String(err)}`)
    }
    const text = await res.text()
    if (res.status >= 500 || res.status === 429) throw new TransientError(`control plane ${path}: HTTP ${res.status}: ${text.slice(0, 300)}`)
    let json: unknown = null
    try {
      json = JSON.parse(text)
    } catch {
      /* error pages are not JSON; the status says enough */
    }
    if (res.status === 401) throw new Error(`control plane refused the runner token (${path}); check RUNNER_TOKEN`)
    return { status: res.status, json }
  }

  const messageOf = (json: unknown) => (json as { error?: { message?: string } } | null)?.error?.message ?? 'no message'
  const path = (clusterName: string, action: string) => `/runner/nodes/${encodeURIComponent(clusterName)}/${action}`

  return {
    async reportStatus(clusterName, report) {
      const { status, json } = await post(path(clusterName, 'status'), report)
      if (status === 404) return { found: false }
      if (status !== 200) throw new Error(`status report for ${clusterName} refused (HTTP ${status}): ${messageOf(json)}`)
      const result = runnerStatusResultSchema.parse(json)
      return { found: true, status: result.status, applied: result.applied, previousStatus: result.previous_status }
    },
    async mintCredentials(clusterName, endpoint) {
      const { status, json } = await post(path(clusterName, 'credentials'), { endpoint })
      if (status === 404) return { ok: false, reason: 'not_found', message: messageOf(json) }
      if (status === 409) return { ok: false, reason: 'not_launching', message: messageOf(json) }
      if (status !== 200) throw new Error(`credentials for ${clusterName} refused (HTTP ${status}): ${messageOf(json)}`)
      return { ok: true, credentials: nodeCredentialsSchema.parse(json) }
    },
  }
}
