// One object per tenant (`tenant:<id>`): the single authority on whether a tenant's request may run.
// Called by RPC from the gateway on every request (admit) and by the admin API, webhooks and the runner
// when tenant state changes. State that matters is in SQLite so it survives eviction.
import { DurableObject } from 'cloudflare:workers'
import { decideAdmission, type AdmitInput, type AdmitResult, type TenantState, type TenantStatus } from './tenant-state.ts'

const SCHEMA_VERSION = 1
const MIGRATIONS: Record<number, string> = {
  1: `CREATE TABLE tenant (id INTEGER PRIMARY KEY CHECK (id = 1), tenant_id TEXT NOT NULL, status TEXT NOT NULL,
        status_reason TEXT, limits TEXT NOT NULL);
      CREATE TABLE revoked_keys (key_id TEXT PRIMARY KEY, revoked_at INTEGER NOT NULL);`,
}

export type TenantConfig = { tenantId: string; status: TenantStatus; statusReason: string | null; limits: Record<string, number> }

export class TenantGate extends DurableObject<Env> {
  private state: TenantState | null = null

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    ctx.blockConcurrencyWhile(async () => {
      this.migrate()
      this.state = this.readState()
    })
  }

  async admit(input: AdmitInput & { tenantId: string }): Promise<AdmitResult> {
    if (!this.state) await this.bootstrapFromD1(input.tenantId)
    return decideAdmission(this.state, input)
  }

  /** Replaces status, reason and limits (admin API, billing webhooks). Idempotent. */
  async configure(config: TenantConfig): Promise<void> {
    this.ctx.storage.sql.exec(
      `INSERT INTO tenant (id, tenant_id, status, status_reason, limits) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, status = excluded.status,
         status_reason = excluded.status_reason, limits = excluded.limits`,
      config.tenantId, config.status, config.statusReason, JSON.stringify(config.limits),
    )
    this.state = this.readState()
  }

  async revokeKey(keyId: string): Promise<void> {
    this.ctx.storage.sql.exec('INSERT OR IGNORE INTO revoked_keys (key_id, revoked_at) VALUES (?, ?)', keyId, Date.now())
    this.state = this.readState()
  }

  /** First use of an object whose storage is empty (new tenant, or state lost): D1 is the record. */
  private async bootstrapFromD1(tenantId: string): Promise<void> {
    const tenant = await this.env.DB.prepare('SELECT status, status_reason, limits FROM tenants WHERE id = ?')
      .bind(tenantId).first<{ status: TenantStatus; status_reason: string | null; limits: string }>()
    if (!tenant) return
    const revoked = await this.env.DB.prepare('SELECT id FROM api_keys WHERE tenant_id = ? AND revoked_at IS NOT NULL')
      .bind(tenantId).all<{ id: string }>()
    if (this.state) return // configured by a concurrent call while we awaited D1: that one is newer
    for (const { id } of revoked.results) {
      this.ctx.storage.sql.exec('INSERT OR IGNORE INTO revoked_keys (key_id, revoked_at) VALUES (?, ?)', id, Date.now())
    }
    await this.configure({ tenantId, status: tenant.status, statusReason: tenant.status_reason, limits: JSON.parse(tenant.limits) })
  }

  private readState(): TenantState | null {
    const row = this.ctx.storage.sql.exec<{ tenant_id: string; status: TenantStatus; status_reason: string | null; limits: string }>(
      'SELECT tenant_id, status, status_reason, limits FROM tenant WHERE id = 1').toArray()[0]
    if (!row) return null
    const revoked = this.ctx.storage.sql.exec<{ key_id: string }>('SELECT key_id FROM revoked_keys').toArray()
    return {
      tenantId: row.tenant_id, status: row.status, statusReason: row.status_reason,
      limits: JSON.parse(row.limits) as Record<string, number>,
      revokedKeyIds: new Set(revoked.map((r) => r.key_id)),
    }
  }

  private migrate(): void {
    const sql = this.ctx.storage.sql
    sql.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)')
    const current = sql.exec<{ version: number }>('SELECT version FROM schema_version').toArray()[0]?.version ?? 0
    for (let v = current + 1; v <= SCHEMA_VERSION; v++) sql.exec(MIGRATIONS[v] ?? '')
    if (current === 0) sql.exec('INSERT INTO schema_version (version) VALUES (?)', SCHEMA_VERSION)
    else if (current < SCHEMA_VERSION) sql.exec('UPDATE schema_version SET version = ?', SCHEMA_VERSION)
  }
}
