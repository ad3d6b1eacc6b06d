// Admin: the price book. PUT /admin/models/:model/price writes a version (audited); GET lists the model's
// versions. The model id is URL-encoded in the path (ids contain '/': Qwen%2FQwen2.5-7B-Instruct); Hono decodes it.
// The console's operator routes (routes/console/fleet-price-api.ts) use the same services (price-book.ts).
import { Hono } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { putPriceSchema } from '../../schemas/prices.ts'
import { checkedPriceModel, listPrices, modelPricesView, setPrice } from '../../services/billing/price-book.ts'
import { readJsonBody } from '../read-body.ts'

export const adminPrices = new Hono<AppEnv>()
  .put('/models/:model/price', async (c) => {
    const model = checkedPriceModel(c.req.param('model'))
    const input = await readJsonBody(c, putPriceSchema)
    return c.json(await setPrice(createDb(c.env.DB), model, input, { actor: 'admin', requestId: c.get('requestId') }))
  })
  .get('/models/:model/price', async (c) => {
    const model = checkedPriceModel(c.req.param('model'))
    return c.json(modelPricesView(model, await listPrices(createDb(c.env.DB), model), Date.now()))
  })
