// The TenantGate object's SQLite storage: versioned schema, the tenant's status and limits, revoked keys,
// admission entries that hold budget (their leases and the last minute's requests) and token budgets. Only the
// object uses it.
import { isDurable, type Budget, type Changes, type LedgerEntry } from './admission-ledger.ts'
import type { LimitOverrides } from './plans.ts'
import type { AccountRecord, RecordedUnits } from './slice-book.ts'
import type { Counts } from './slices.ts'
import type { TenantState, TenantStatus } from './tenant-state.ts'

/** Bump with a new entry in MIGRATIONS; objects upgrade themselves on their next start. */
export const SCHEMA_VERSION = 6
const MIGRATIONS: Record<number, string> = {
  1: `CREATE TABLE tenant (id INTEGER PRIMARY KEY CHECK (id = 1), tenant_id TEXT NOT NULL, status TEXT NOT NULL,
        status_reason TEXT, limits TEXT NOT NULL);
      CREATE TABLE revoked_keys (key_id TEXT PRIMARY KEY, revoked_at INTEGER NOT NULL);`,
  2: `ALTER TABLE tenant ADD COLUMN plan TEXT NOT NULL DEFAULT 'default';
      CREATE TABLE admissions (id TEXT PRIMARY KEY, key_id TEXT NOT NULL, at INTEGER NOT NULL, tokens INTEGER NOT NULL,
        is_open INTEGER NOT NULL, expires_at INTEGER NOT NULL, budget_period TEXT, budget_hold INTEGER NOT NULL);
      CREATE INDEX admissions_at_idx ON admissions (at);
      CREATE TABLE budgets (period TEXT PRIMARY KEY, committed INTEGER NOT NULL, reserved INTEGER NOT NULL);
      CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);`,
  // tenants.updated_at of the configuration applied: configure ignores older ones (concurrent writers).
  3: `ALTER TABLE tenant ADD COLUMN updated_at INTEGER;`,
  // Money budgets (budget_usd): the micro-dollars an entry holds, and each month's committed and held money.
  4: `ALTER TABLE admissions ADD COLUMN cost_hold INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE budgets ADD COLUMN committed_micro_usd INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE budgets ADD COLUMN reserved_micro_usd INTEGER NOT NULL DEFAULT 0;`,
  // Slices (issue 19): what each location instance holds (slice-book.ts AccountRecord; counts as JSON), and the
  // windowed units each exchange put into the in-memory ledger, so a restarted home grants nothing twice.
  5: `CREATE TABLE slice_accounts (instance TEXT PRIMARY KEY, location TEXT NOT NULL, seq INTEGER NOT NULL,
        reported_entries INTEGER NOT NULL, use_by INTEGER NOT NULL, pool_held_until INTEGER NOT NULL, holding TEXT NOT NULL,
        reported TEXT NOT NULL);
      CREATE TABLE slice_recorded (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, units TEXT NOT NULL);
      CREATE INDEX slice_recorded_at_idx ON slice_recorded (at);`,
  // Budget slices: an account holding budget units it has not reported is kept until they are reported or lapse.
  6: `ALTER TABLE slice_accounts ADD COLUMN holds_budget INTEGER NOT NULL DEFAULT 0;`,
}

export type TenantRecord = {
  tenantId: string
  status: TenantStatus
  statusReason: string | null
  plan: string
  limits: LimitOverrides
  /** D1's tenants.updated_at of this configuration; null when unknown (a new tenant, or an older writer). */
  updatedAt: number | null
}

type EntryRow = {
  id: string
  key_id: string
  at: number
  tokens: number
  is_open: number
  expires_at: number
  budget_period: string | null
  budget_hold: number
  cost_hold: number
}

export class GateStorage {
  private readonly storage: DurableObjectStorage

  constructor(storage: DurableObjectStorage) {
    this.storage = storage
  }

  private get sql(): SqlStorage {
    return this.storage.sql
  }

  /** Runs the missing migrations in one transaction. */
  migrate(): void {
    this.storage.transactionSync(() => {
      this.sql.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)')
      const current = this.sql.exec<{ version: number }>('SELECT version FROM schema_version').toArray()[0]?.version ?? 0
      for (let v = current + 1; v <= SCHEMA_VERSION; v++) this.sql.exec(MIGRATIONS[v] ?? '')
      if (current === 0) this.sql.exec('INSERT INTO schema_version (version) VALUES (?)', SCHEMA_VERSION)
      else if (current < SCHEMA_VERSION) this.sql.exec('UPDATE schema_version SET version = ?', SCHEMA_VERSION)
    })
  }

  readTenant(): TenantState | null {
    const row = this.sql
      .exec<{ tenant_id: string; status: TenantStatus; status_reason: string | null; plan: string; limits: string }>(
        'SELECT tenant_id, status, status_reason, plan, limits FROM tenant WHERE id = 1',
      )
      .toArray()[0]
    if (!row) return null
    const revoked = this.sql.exec<{ key_id: string }>('SELECT key_id FROM revoked_keys').toArray()
    return {
      tenantId: row.tenant_id,
      status: row.status,
      statusReason: row.status_reason,
      plan: row.plan,
      limits: JSON.parse(row.limits) as LimitOverrides,
      revokedKeyIds: new Set(revoked.map((r) => r.key_id)),
    }
  }

  writeTenant(t: TenantRecord): void {
    this.sql.exec(
      `INSERT INTO tenant (id, tenant_id, status, status_reason, plan, limits, updated_at) VALUES (1, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, status = excluded.status,
         status_reason = excluded.status_reason, plan = excluded.plan, limits = excluded.limits, updated_at = excluded.updated_at`,
      t.tenantId,
      t.status,
      t.statusReason,
      t.plan,
      JSON.stringify(t.limits),
      t.updatedAt,
    )
  }

  /** updated_at of the configuration in force (null when none was given or there is none). */
  readTenantUpdatedAt(): number | null {
    return this.sql.exec<{ updated_at: number | null }>('SELECT updated_at FROM tenant WHERE id = 1').toArray()[0]?.updated_at ?? null
  }

  revokeKey(keyId: string, at: number): void {
    this.sql.exec('INSERT OR IGNORE INTO revoked_keys (key_id, revoked_at) VALUES (?, ?)', keyId, at)
  }

  /** The entries the ledger needs: the last window's requests and every lease not settled yet. */
  readEntries(windowStart: number): LedgerEntry[] {
    return this.sql
      .exec<EntryRow>('SELECT * FROM admissions WHERE at > ? OR is_open = 1', windowStart)
      .toArray()
      .map((r) => ({
        id: r.id,
        keyId: r.key_id,
        at: r.at,
        tokens: r.tokens,
        isOpen: r.is_open === 1,
        expiresAt: r.expires_at,
        budgetPeriod: r.budget_period,
        budgetHold: r.budget_hold,
        costHold: r.cost_hold,
      }))
  }

  readBudgets(): Map<string, Budget> {
    const rows = this.sql
      .exec<{ period: string; committed: number; reserved: number; committed_micro_usd: number; reserved_micro_usd: number }>('SELECT * FROM budgets')
      .toArray()
    return new Map(
      rows.map((r) => [
        r.period,
        { committed: r.committed, reserved: r.reserved, committedMicroUsd: r.committed_micro_usd, reservedMicroUsd: r.reserved_micro_usd },
      ]),
    )
  }

  /**
   * Writes what the ledger changed that must survive eviction (isDurable: entries holding budget, and the
   * budgets); synchronous, so it commits with the decision that caused it.
   */
  persist(changes: Changes, budgetOf: (period: string) => Budget): void {
    for (const e of changes.entries) {
      if (!isDurable(e)) continue
      this.sql.exec(
        `INSERT INTO admissions (id, key_id, at, tokens, is_open, expires_at, budget_period, budget_hold, cost_hold) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET tokens = excluded.tokens, is_open = excluded.is_open, expires_at = excluded.expires_at,
           budget_hold = excluded.budget_hold, cost_hold = excluded.cost_hold`,
        e.id,
        e.keyId,
        e.at,
        e.tokens,
        e.isOpen ? 1 : 0,
        e.expiresAt,
        e.budgetPeriod,
        e.budgetHold,
        e.costHold,
      )
    }
    for (const period of new Set(changes.budgets)) {
      const b = budgetOf(period)
      this.sql.exec(
        `INSERT INTO budgets (period, committed, reserved, committed_micro_usd, reserved_micro_usd) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (period) DO UPDATE SET committed = excluded.committed, reserved = excluded.reserved,
           committed_micro_usd = excluded.committed_micro_usd, reserved_micro_usd = excluded.reserved_micro_usd`,
        period,
        b.committed,
        b.reserved,
        b.committedMicroUsd,
        b.reservedMicroUsd,
      )
    }
  }

  /** Deletes settled entries that left the window; returns whether any entry is left. */
  prune(windowStart: number): boolean {
    this.sql.exec('DELETE FROM admissions WHERE at <= ? AND is_open = 0', windowStart)
    return this.sql.exec('SELECT 1 FROM admissions LIMIT 1').toArray().length > 0
  }

  readAlarmAt(): number | null {
    return this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE name = 'alarm_at'").toArray()[0]?.value ?? null
  }

  writeAlarmAt(at: number | null): void {
    if (at === null) this.sql.exec("DELETE FROM meta WHERE name = 'alarm_at'")
    else this.sql.exec("INSERT INTO meta (name, value) VALUES ('alarm_at', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", at)
  }

  /**
   * One exchange applied: its account, the units it put into the ledger (none: no row), and the pruning of what no
   * longer counts (accounts past use-by + window and their pools, units past the window). A handful of statements
   * per exchange, none per admission; synchronous, so they commit with the exchange's decision.
   */
  writeSliceExchange(account: AccountRecord | null, holdsBudget: boolean, recorded: Counts, now: number, windowMs: number): void {
    if (account) {
      this.sql.exec(
        `INSERT INTO slice_accounts (instance, location, seq, reported_entries, use_by, pool_held_until, holding, reported, holds_budget)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (instance) DO UPDATE SET seq = excluded.seq,
           reported_entries = excluded.reported_entries, use_by = excluded.use_by, pool_held_until = excluded.pool_held_until,
           holding = excluded.holding, reported = excluded.reported, holds_budget = excluded.holds_budget`,
        account.instance,
        account.location,
        account.seq,
        account.reportedEntries,
        account.useBy,
        account.poolHeldUntil,
        JSON.stringify(account.holding),
        JSON.stringify(account.reported),
        holdsBudget ? 1 : 0,
      )
    }
    if (Object.keys(recorded).length > 0) this.sql.exec('INSERT INTO slice_recorded (at, units) VALUES (?, ?)', now, JSON.stringify(recorded))
    this.sql.exec('DELETE FROM slice_recorded WHERE at <= ?', now - windowMs)
    this.sql.exec('DELETE FROM slice_accounts WHERE use_by <= ? AND pool_held_until <= ? AND holds_budget = 0', now - windowMs, now)
  }

  readSliceAccounts(): AccountRecord[] {
    return this.sql
      .exec<{
        instance: string
        location: string
        seq: number
        reported_entries: number
        use_by: number
        pool_held_until: number
        holding: string
        reported: string
      }>('SELECT * FROM slice_accounts')
      .toArray()
      .map((r) => ({
        instance: r.instance,
        location: r.location,
        seq: r.seq,
        reportedEntries: r.reported_entries,
        useBy: r.use_by,
        poolHeldUntil: r.pool_held_until,
        holding: JSON.parse(r.holding) as Counts,
        reported: JSON.parse(r.reported) as Counts,
      }))
  }

  /** Units recorded by exchanges still in the window that ends at `windowStart` + the window. */
  readSliceRecorded(windowStart: number): RecordedUnits[] {
    return this.sql
      .exec<{ at: number; units: string }>('SELECT at, units FROM slice_recorded WHERE at > ?', windowStart)
      .toArray()
      .map((r) => ({ at: r.at, units: JSON.parse(r.units) as Counts }))
  }
}
