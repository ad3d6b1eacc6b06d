// Scrape-time fleet series for the dashboard and the "fleet below min_ready" alert: ready nodes and min_ready per
// fleet model (labels bounded by the fleets admins made, no tenant), and the reconciler's actions counted from its
// audit rows (the reconciler is a Durable Object, which has no metrics buffer; the same approach as
// cic_node_launch_failures_total). One D1 batch of two statements, no bound parameters. Called by scrape-metrics.ts.
import { FAMILIES, type Sample } from '../../../../durable-objects/metrics-aggregator/contract.ts'
import { FLEET_ACTIONS } from '../../../../durable-objects/fleet-reconciler/contract.ts'

const FLEETS_SQL = `SELECT f.model, f.min_ready,
  (SELECT count(*) FROM node_launches l JOIN nodes n ON n.id = l.node_id WHERE l.fleet_model = f.model AND n.status = 'ready') AS ready
  FROM fleets f`
// audit_log_actor_idx (actor, id) keeps this to the reconciler's rows.
const ACTIONS_SQL = `SELECT action, count(*) AS n FROM audit_log WHERE actor = 'reconciler' GROUP BY action`

export async function fleetSamples(d1: D1Database): Promise<Sample[]> {
  const [fleets, actions] = await d1.batch<{ model: string; min_ready: number; ready: number } | { action: string; n: number }>([
    d1.prepare(FLEETS_SQL),
    d1.prepare(ACTIONS_SQL),
  ])
  const byAction = new Map<string, number>(FLEET_ACTIONS.map((a) => [a, 0]))
  for (const row of (actions?.results ?? []) as { action: string; n: number }[]) {
    const action = row.action.replace(/^fleet\./, '')
    if (byAction.has(action)) byAction.set(action, row.n)
  }
  return [
    ...((fleets?.results ?? []) as { model: string; min_ready: number; ready: number }[]).flatMap((f) => [
      { name: FAMILIES.fleetReadyNodes.name, labels: { model: f.model }, value: f.ready },
      { name: FAMILIES.fleetMinReady.name, labels: { model: f.model }, value: f.min_ready },
    ]),
    ...[...byAction].map(([action, value]) => ({ name: FAMILIES.fleetReconcileActions.name, labels: { action }, value })),
  ]
}
