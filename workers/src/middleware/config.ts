// Parses the Worker's configuration once per isolate and exposes it as c.get('config').
import { createMiddleware } from 'hono/factory'
import { loadConfig, type AppEnv } from '../env.ts'

export const config = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    c.set('config', loadConfig(c.env))
    await next()
  })
