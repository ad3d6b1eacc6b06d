// Stores a node's own cumulative token counters (vLLM's `vllm:prompt_tokens_total` and
// `vllm:generation_tokens_total`, scraped from /metrics by the health monitor) so the reconciliation report
// can compare them with the ledger. Called by the node monitor after each successful scrape.
import { and, eq, lt } from 'drizzle-orm'
import { z } from 'zod'
import type { Db } from './client.ts'
import { nodeCounterSamples } from './schema.ts'

/** Samples older than this are deleted when a node records a new one; the report cannot look further back. */
export const NODE_COUNTER_RETENTION_MS = 35 * 86_400_000

/** Prometheus prints counters as floats (`1234.0`); a token counter is a whole, non-negative number. */
const counter = z.number().finite().nonnegative().transform(Math.round)
export const nodeCounterSampleSchema = z.object({
  /** When the counters were scraped, ms since epoch. */
  at: z.number().int().positive(),
  promptTokensTotal: counter,
  generationTokensTotal: counter,
})
export type NodeCounterSample = z.input<typeof nodeCounterSampleSchema>

/**
 * Records one scrape of a node's counters. Idempotent per (node, at). Throws (ZodError) on a negative or
 * non-finite figure, which means the scrape was misread and must not pollute the report.
 * One sample a minute per node is plenty for reconciliation; more only grows the table.
 */
export async function recordNodeCounters(db: Db, nodeId: string, sample: NodeCounterSample): Promise<void> {
  const s = nodeCounterSampleSchema.parse(sample)
  await db.batch([
    db
      .insert(nodeCounterSamples)
      .values({ nodeId, at: s.at, promptTokensTotal: s.promptTokensTotal, generationTokensTotal: s.generationTokensTotal })
      .onConflictDoNothing(),
    db.delete(nodeCounterSamples).where(and(eq(nodeCounterSamples.nodeId, nodeId), lt(nodeCounterSamples.at, s.at - NODE_COUNTER_RETENTION_MS))),
  ])
}
