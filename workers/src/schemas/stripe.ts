// Stripe webhook events, parsed once after the signature check into the few facts billing acts on.
// Loose objects: Stripe adds fields in every API version; only what we read is checked.
import { z } from 'zod'
import type { PlanSource } from '../services/billing/plans.ts'

const customerRef = z
  .union([z.string(), z.looseObject({ id: z.string() }), z.null()])
  .optional()
  .transform((c) => (typeof c === 'string' ? c : (c?.id ?? null)))
const metadata = z
  .record(z.string(), z.string())
  .nullish()
  .transform((m) => m ?? {})

const envelopeSchema = z.looseObject({
  id: z.string().min(1),
  type: z.string().min(1),
  /** Seconds since epoch: the order in which Stripe produced the events. */
  created: z.number().int().nonnegative(),
  data: z.looseObject({ object: z.looseObject({}) }),
})

const paymentIntentSchema = z.looseObject({ id: z.string().min(1), customer: customerRef })

const subscriptionSchema = z.looseObject({
  id: z.string().min(1),
  customer: customerRef,
  status: z.string(),
  metadata,
  items: z
    .looseObject({
      data: z.array(z.looseObject({ price: z.looseObject({ lookup_key: z.string().nullish(), metadata }).nullish() })),
    })
    .optional(),
})

const invoiceSchema = z.looseObject({
  id: z.string().min(1),
  customer: customerRef,
  period_start: z.number().int().nonnegative(),
  period_end: z.number().int().nonnegative(),
  amount_paid: z.number().int(),
  currency: z.string(),
})

/** Subscription statuses after which it never bills again (a deleted event always means ended). */
const ENDED_STATUSES = new Set(['canceled', 'incomplete_expired'])

type Base = { id: string; type: string; created: number; customerId: string | null }
export type BillingEvent =
  | (Base & { kind: 'payment'; objectId: string; outcome: 'succeeded' | 'failed' })
  | (Base & { kind: 'subscription'; objectId: string; isEnded: boolean; isCreation: boolean; planSource: PlanSource; tenantHint: string | null })
  | (Base & { kind: 'invoice_paid'; objectId: string; periodStartMs: number; periodEndMs: number; amountPaid: number; currency: string })
  | (Base & { kind: 'other' })

/** The envelope of an event whose object failed its schema: enough to store the event and acknowledge it. */
export type EventEnvelope = { id: string; type: string; created: number }
export type ParsedEvent = { ok: true; event: BillingEvent } | { ok: false; error: string; envelope: EventEnvelope | null }

function fail(error: z.ZodError, what: string, envelope: EventEnvelope | null = null): ParsedEvent {
  const issue = error.issues[0]
  return { ok: false, error: `${what}: ${issue?.path.join('.') || '(root)'} ${issue?.message ?? 'invalid'}`, envelope }
}

export function parseBillingEvent(json: unknown): ParsedEvent {
  const envelope = envelopeSchema.safeParse(json)
  if (!envelope.success) return fail(envelope.error, 'event')
  const { id, type, created, data } = envelope.data
  const base = { id, type, created }
  switch (type) {
    case 'payment_intent.succeeded':
    case 'payment_intent.payment_failed': {
      const pi = paymentIntentSchema.safeParse(data.object)
      if (!pi.success) return fail(pi.error, 'payment_intent', base)
      const outcome = type === 'payment_intent.succeeded' ? 'succeeded' : 'failed'
      return { ok: true, event: { ...base, kind: 'payment', customerId: pi.data.customer, objectId: pi.data.id, outcome } }
    }
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted': {
      const sub = subscriptionSchema.safeParse(data.object)
      if (!sub.success) return fail(sub.error, 'subscription', base)
      const s = sub.data
      const prices = (s.items?.data ?? []).flatMap((i) => (i.price ? [{ lookupKey: i.price.lookup_key ?? null, metadata: i.price.metadata }] : []))
      return {
        ok: true,
        event: {
          ...base,
          kind: 'subscription',
          customerId: s.customer,
          objectId: s.id,
          isEnded: type === 'customer.subscription.deleted' || ENDED_STATUSES.has(s.status),
          isCreation: type === 'customer.subscription.created',
          planSource: { metadata: s.metadata, prices },
          tenantHint: s.metadata.cic_tenant_id ?? null,
        },
      }
    }
    case 'invoice.payment_succeeded': {
      const inv = invoiceSchema.safeParse(data.object)
      if (!inv.success) return fail(inv.error, 'invoice', base)
      const i = inv.data
      return {
        ok: true,
        event: {
          ...base,
          kind: 'invoice_paid',
          customerId: i.customer,
          objectId: i.id,
          periodStartMs: i.period_start * 1000,
          periodEndMs: i.period_end * 1000,
          amountPaid: i.amount_paid,
          currency: i.currency,
        },
      }
    }
    default:
      return { ok: true, event: { ...base, kind: 'other', customerId: null } }
  }
}
