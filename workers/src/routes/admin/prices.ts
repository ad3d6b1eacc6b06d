// Admin: the price book. PUT /admin/models/:model/price writes a version (audited); GET lists the model's
// versions. The model id is URL-encoded in the path (ids contain '/': Qwen%2FQwen2.5-7B-Instruct); Hono decodes it.
import { Hono } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { putPriceSchema } from '../../schemas/prices.ts'
import { parseTimestamp } from '../../schemas/timestamp-param.ts'
import { listPrices, PRICE_MIN_LEAD_MS, priceView, putPrice } from '../../services/billing/price-book.ts'
import { readJsonBody } from '../read-body.ts'

/** The model id of the path, checked: the same bounds as a request's `model`. */
function modelOf(raw: string): string {
  if (raw.length === 0 || raw.length > 256) throw new ApiError('invalid_request', 'model must be 1 to 256 characters.', { param: 'model' })
  return raw
}

export const adminPrices = new Hono<AppEnv>()
  .put('/models/:model/price', async (c) => {
    const model = modelOf(c.req.param('model'))
    const input = await readJsonBody(c, putPriceSchema)
    const now = Date.now()
    let effectiveFrom = now + PRICE_MIN_LEAD_MS
    if (input.effective_from !== undefined) {
      const parsed = parseTimestamp(String(input.effective_from))
      if (parsed === null)
        throw new ApiError('invalid_request', 'effective_from must be an ISO 8601 time or Unix seconds/milliseconds.', { param: 'effective_from' })
      effectiveFrom = parsed
    }
    const version = await putPrice(createDb(c.env.DB), { model, input: input.input, output: input.output ?? 0, effectiveFrom }, now, {
      actor: 'admin',
      requestId: c.get('requestId'),
    })
    return c.json(priceView({ ...version, model }))
  })
  .get('/models/:model/price', async (c) => {
    const model = modelOf(c.req.param('model'))
    const versions = await listPrices(createDb(c.env.DB), model)
    const now = Date.now()
    const current = versions.filter((v) => v.effectiveFrom <= now).at(-1) ?? null
    return c.json({
      object: 'list',
      model,
      current: current && priceView(current),
      data: versions.map((v) => priceView(v)),
    })
  })
