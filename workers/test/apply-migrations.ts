// Runs in workerd before each test file: applies d1-migrations/ to the file's fresh D1 database.
import { applyD1Migrations } from 'cloudflare:test'
import { env } from 'cloudflare:workers'

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS)
