// The few admin API calls the load test makes (README "Admin API"), with the admin token.

export type Admin = { url: string; token: string }

export async function adminCall<T>(admin: Admin, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(admin.url + route, {
    method,
    headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${method} ${route} -> ${res.status}: ${await res.text()}`)
  return (await res.json()) as T
}

export type TenantUsage = { requests: number; prompt_tokens: number; completion_tokens: number }

/** The tenant's whole ledger (GET /admin/tenants/:id/usage, no range). */
export const tenantUsage = (admin: Admin, tenantId: string) => adminCall<TenantUsage>(admin, 'GET', `/admin/tenants/${encodeURIComponent(tenantId)}/usage`)

/** The limits in force and the leases in flight, as the tenant's admission object reports them. */
export type AdmissionState = { limits: { rpm: number; concurrency: number; keyRpm: number }; inFlight: number }

export const admissionState = (admin: Admin, tenantId: string) =>
  adminCall<AdmissionState>(admin, 'GET', `/admin/tenants/${encodeURIComponent(tenantId)}/admission`)
