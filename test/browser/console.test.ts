// The console in a real browser (issue 17 "Tested in a real browser"), against `npm run dev`'s stack: Chromium
// from Debian's package, sign-in through the OIDC stand-in's page, billing through the Stripe stand-in.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type DevStack, startDevStack } from '../../scripts/dev-stack.ts'
import { freePort } from '../e2e/free-port.ts'
import { adminApi, type Console, chat, consoleApi, launchBrowser, openConsole, operatorEmail, screenshot, signIn, uniqueEmail } from './harness.ts'

let stack: DevStack
let browser: Browser
let persistTo: string
let operator: Console
const opened: Console[] = []

async function open(email: string): Promise<Console> {
  const c = await openConsole(browser, email, stack.url)
  opened.push(c)
  return c
}

/** A tenant made by the operator in the console, with an admin who joined through the invite link. */
async function tenantWithAdmin(label: string): Promise<{ tenantId: string; admin: Console }> {
  const created = await consoleApi(stack.url, operator, 'POST', '/tenants', { name: `${label}-${crypto.randomUUID().slice(0, 6)}` })
  expect(created.status).toBe(201)
  const tenantId = (created.json as { id: string }).id
  const admin = await open(uniqueEmail(`${label}-admin`))
  const invite = await consoleApi(stack.url, operator, 'POST', `/tenants/${tenantId}/invites`, { email: admin.email, role: 'tenant_admin' })
  expect(invite.status).toBe(201)
  await acceptInvite(admin, (invite.json as { invite_url: string }).invite_url, tenantId)
  return { tenantId, admin }
}

/** Opening the link signed out goes through sign-in and lands on the tenant's page. */
async function acceptInvite(c: Console, inviteUrl: string, tenantId: string): Promise<void> {
  await c.page.goto(inviteUrl)
  if (await c.page.locator('input[name="email"]').isVisible()) {
    await c.page.locator('input[name="email"]').fill(c.email)
    await c.page.getByRole('button', { name: 'Sign in' }).click()
  }
  await c.page.waitForURL(`**/dashboard/tenants/${tenantId}`, { timeout: 15_000 }).catch(async (err) => {
    throw new Error(`invite ${inviteUrl} ended at ${c.page.url()}: ${(await c.page.locator('body').textContent())?.slice(0, 500)}\n${err}`)
  })
  await expect.poll(() => c.page.getByRole('heading', { level: 1 }).first().textContent()).not.toBe('You have no access')
}

beforeAll(async () => {
  browser = await launchBrowser()
  persistTo = mkdtempSync(path.join(tmpdir(), 'cic-browser-'))
  stack = await startDevStack({ port: await freePort(), standinPort: await freePort(), persistTo, quiet: true })
  operator = await open(operatorEmail())
  await signIn(stack.url, operator)
}, 180_000)

afterEach(() => {
  for (const c of opened) expect(c.cspViolations, `${c.email}: CSP violations or page errors`).toEqual([])
})

afterAll(async () => {
  await browser?.close()
  await stack?.close()
  if (persistTo) rmSync(persistTo, { recursive: true, force: true })
})

describe('the console in a browser', () => {
  it('new user: no access; invited as admin by the operator, creates a key that works at once, revokes it (401)', async () => {
    const newcomer = await open(uniqueEmail('newcomer'))
    await signIn(stack.url, newcomer)
    await expect.poll(() => newcomer.page.locator('main').textContent()).toBe('You have no access')
    await expect(newcomer.page.locator('#nav a').count()).resolves.toBe(0)
    await screenshot(newcomer.page, 'no-access')

    // The operator creates the tenant and invites the newcomer in the UI.
    const op = operator.page
    await op.goto(`${stack.url}/dashboard/ops/tenants`)
    const tenantName = `browser-${crypto.randomUUID().slice(0, 6)}`
    await op.getByLabel('Tenant name').fill(tenantName)
    await op.getByRole('button', { name: 'Create tenant' }).click()
    await op.getByRole('link', { name: tenantName }).click()
    await op.waitForURL(/\/dashboard\/tenants\/[^/]+$/)
    const tenantId = decodeURIComponent(new URL(op.url()).pathname.split('/').at(-1) ?? '')
    await screenshot(op, 'tenant-overview')
    await op.getByRole('link', { name: 'Members' }).click()
    await op.getByLabel('Email').fill(newcomer.email)
    await op.getByLabel('Role').selectOption('tenant_admin')
    await op.getByRole('button', { name: 'Invite member' }).click()
    const inviteUrl = (await op.getByTestId('invite-link').textContent()) ?? ''
    expect(inviteUrl).toMatch(/\/dashboard\/invites\//)
    await screenshot(op, 'members')

    // Still signed in: the link accepts at once.
    await acceptInvite(newcomer, inviteUrl, tenantId)
    const page = newcomer.page
    await page.getByRole('link', { name: 'Keys' }).click()
    await page.getByLabel('Key name').fill('from the browser')
    await page.getByRole('button', { name: 'Create key' }).click()
    const key = (await page.getByTestId('new-key').textContent()) ?? ''
    expect(key.length).toBeGreaterThan(20)
    await page.getByRole('button', { name: 'Copy' }).click()
    await page.getByText('Copied.').waitFor()
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key)
    await screenshot(page, 'keys-new-key')

    const answered = await chat(stack.url, key, 'hello from a console key')
    expect(answered.status).toBe(200)

    await page.getByRole('button', { name: 'Revoke from the browser' }).click()
    await expect.poll(() => page.getByTestId('keys-table').textContent()).toContain('revoked')
    expect((await chat(stack.url, key, 'after revoke')).status).toBe(401)
  }, 180_000)

  it("tenant A's admin cannot read or change tenant B, in the UI or through the console API (403)", async () => {
    const a = await tenantWithAdmin('tenant-a')
    const b = await tenantWithAdmin('tenant-b')
    const bKey = await consoleApi(stack.url, b.admin, 'POST', `/tenants/${b.tenantId}/keys`, { name: 'b key' })
    expect(bKey.status).toBe(201)
    const bKeyId = (bKey.json as { id: string }).id
    const bAdminId = ((await consoleApi(stack.url, b.admin, 'GET', '/me')).json as { user: { id: string } }).user.id

    for (const tab of ['', '/keys', '/usage', '/members']) {
      await a.admin.page.goto(`${stack.url}/dashboard/tenants/${b.tenantId}${tab}`)
      await expect.poll(() => a.admin.page.getByRole('heading', { level: 1 }).textContent()).toBe('Not allowed')
      await expect(a.admin.page.getByTestId('keys-table').count()).resolves.toBe(0)
    }
    await screenshot(a.admin.page, 'cross-tenant-refused')

    const calls: [string, string, unknown?][] = [
      ['GET', `/tenants/${b.tenantId}`],
      ['GET', `/tenants/${b.tenantId}/keys`],
      ['GET', `/tenants/${b.tenantId}/usage`],
      ['GET', `/tenants/${b.tenantId}/usage.csv`],
      ['GET', `/tenants/${b.tenantId}/members`],
      ['POST', `/tenants/${b.tenantId}/keys`, { name: 'intruder' }],
      ['DELETE', `/tenants/${b.tenantId}/keys/${bKeyId}`],
      ['POST', `/tenants/${b.tenantId}/invites`, { email: a.admin.email, role: 'tenant_admin' }],
      ['DELETE', `/tenants/${b.tenantId}/members/${bAdminId}`],
      ['POST', `/tenants/${b.tenantId}/billing/checkout`, { plan: 'pro' }],
      ['POST', `/tenants/${b.tenantId}/billing/portal`],
    ]
    for (const [method, route, body] of calls) {
      expect({ call: `${method} ${route}`, status: (await consoleApi(stack.url, a.admin, method, route, body)).status }).toEqual({
        call: `${method} ${route}`,
        status: 403,
      })
    }
    // Nothing changed in B: its key still listed and active, its admin still a member.
    const keys = (await consoleApi(stack.url, b.admin, 'GET', `/tenants/${b.tenantId}/keys`)).json as {
      keys: { id: string; revoked_at: number | null; name: string }[]
    }
    expect(keys.keys.map((k) => [k.name, k.revoked_at])).toEqual([['b key', null]])
    // A's own tenant still answers A.
    expect((await consoleApi(stack.url, a.admin, 'GET', `/tenants/${a.tenantId}/keys`)).status).toBe(200)
  }, 180_000)

  it('the usage chart shows the tokens of requests just made', async () => {
    const { tenantId, admin } = await tenantWithAdmin('usage')
    const created = await consoleApi(stack.url, admin, 'POST', `/tenants/${tenantId}/keys`, { name: 'usage key' })
    const key = (created.json as { key: string }).key
    let expected = 0
    for (const [content, maxTokens] of [
      ['alpha beta gamma', 7],
      ['delta', 4],
    ] as const) {
      const res = await chat(stack.url, key, content, maxTokens)
      expect(res.status).toBe(200)
      expected += ((await res.json()) as { usage: { total_tokens: number } }).usage.total_tokens
    }
    expect(expected).toBeGreaterThan(0)

    const page = admin.page
    // Usage reaches the rollups through the usage queue: reload until it is there.
    await expect
      .poll(
        async () => {
          await page.goto(`${stack.url}/dashboard/tenants/${tenantId}/usage`)
          await page.getByTestId('usage-table').waitFor()
          return page.evaluate(() => {
            const canvas = document.querySelector('[data-testid="usage-chart"]')
            const chart = (
              globalThis as unknown as { Chart: { getChart(c: Element | null): { data: { datasets: { data: number[] }[] } } | undefined } }
            ).Chart.getChart(canvas)
            return chart ? chart.data.datasets.flatMap((d) => d.data).reduce((a, b) => a + b, 0) : -1
          })
        },
        { timeout: 60_000, interval: 1_000 },
      )
      .toBe(expected)
    expect(await page.getByTestId('usage-totals').textContent()).toContain(`${expected.toLocaleString('en-GB')} tokens`)
    await expect(page.getByTestId('usage-chart').boundingBox()).resolves.toMatchObject({ width: expect.any(Number) })
    await screenshot(page, 'usage')

    // CSV export of the same query.
    const csvHref = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href')
    const csv = await admin.context.request.get(stack.url + (csvHref ?? ''))
    expect(csv.status()).toBe(200)
    const text = await csv.text()
    const [header, ...rows] = text.trim().split(/\r?\n/)
    const column = (header ?? '').split(',').indexOf('total_tokens')
    expect(column, text).toBeGreaterThanOrEqual(0)
    const cells = (row: string) => row.split(',').map((cell) => cell.replace(/^"(.*)"$/, '$1'))
    expect(
      rows.map((r) => Number(cells(r)[column])).reduce((a, b) => a + b, 0),
      text,
    ).toBe(expected)
  }, 180_000)

  it("a Checkout completed in the Stripe stand-in changes the tenant's plan through the signed webhook", async () => {
    const { tenantId, admin } = await tenantWithAdmin('billing')
    const page = admin.page
    await page.goto(`${stack.url}/dashboard/tenants/${tenantId}/billing`)
    await expect.poll(() => page.getByTestId('plan').textContent()).not.toBe('pro')
    await screenshot(page, 'billing-before')
    await page.getByLabel('Plan', { exact: true }).selectOption('pro')
    await page.getByRole('button', { name: 'Subscribe' }).click()
    await page.waitForURL(`${stack.stripe.url}/checkout/**`)
    await screenshot(page, 'stripe-standin-checkout')
    await page.getByRole('button', { name: 'Subscribe' }).click()
    await page.waitForURL((url) => url.href.startsWith(`${stack.url}/dashboard`))

    const webhooks = stack.stripe.webhooks.slice(-3)
    expect(webhooks.map((w) => [w.type, w.status])).toEqual([
      ['customer.created', 200],
      ['customer.subscription.created', 200],
      ['checkout.session.completed', 200],
    ])
    await expect
      .poll(async () => {
        await page.goto(`${stack.url}/dashboard/tenants/${tenantId}/billing`)
        return page.getByTestId('plan').textContent()
      })
      .toBe('pro')
    const tenant = await adminApi<{ plan: string }>(stack.url, stack.adminToken, 'GET', `/admin/tenants/${tenantId}`)
    expect(tenant.plan).toBe('pro')
    await screenshot(page, 'billing-after')

    await page.getByRole('button', { name: 'Manage billing' }).click()
    await page.waitForURL(`${stack.stripe.url}/portal/**`)
    await page.getByRole('link', { name: 'Return to CIC' }).click()
    await page.waitForURL((url) => url.href.startsWith(`${stack.url}/dashboard`))
  }, 180_000)

  it("a tenant member sees usage, keys and members, creates their own key, and cannot revoke the admin's or manage billing", async () => {
    const { tenantId, admin } = await tenantWithAdmin('roles')
    const adminKey = await consoleApi(stack.url, admin, 'POST', `/tenants/${tenantId}/keys`, { name: 'admin key' })
    const member = await open(uniqueEmail('roles-member'))
    const invite = await consoleApi(stack.url, admin, 'POST', `/tenants/${tenantId}/invites`, { email: member.email, role: 'tenant_member' })
    await acceptInvite(member, (invite.json as { invite_url: string }).invite_url, tenantId)

    const page = member.page
    const tabs = page.getByRole('navigation', { name: 'Tenant' }).getByRole('link')
    await expect.poll(() => tabs.allTextContents()).toEqual(['Overview', 'Usage', 'Keys', 'Members'])
    await page.getByRole('link', { name: 'Keys' }).click()
    await page.getByLabel('Key name').fill('member key')
    await page.getByRole('button', { name: 'Create key' }).click()
    await page.getByTestId('new-key').waitFor()
    const rows = page.getByTestId('keys-table').getByRole('row')
    await expect
      .poll(() =>
        rows
          .filter({ hasText: 'member key' })
          .getByRole('button', { name: /Revoke/ })
          .count(),
      )
      .toBe(1)
    expect(
      await rows
        .filter({ hasText: 'admin key' })
        .getByRole('button', { name: /Revoke/ })
        .count(),
    ).toBe(0)
    await screenshot(page, 'keys-member')
    const adminKeyId = (adminKey.json as { id: string }).id
    expect((await consoleApi(stack.url, member, 'DELETE', `/tenants/${tenantId}/keys/${adminKeyId}`)).status).toBe(403)

    await page.getByRole('link', { name: 'Members' }).click()
    await page.getByTestId('members-table').waitFor()
    expect(await page.getByRole('form', { name: 'Invite member' }).count()).toBe(0)
    expect(await page.getByRole('button', { name: /^Remove/ }).count()).toBe(0)
    expect((await consoleApi(stack.url, member, 'POST', `/tenants/${tenantId}/billing/checkout`, { plan: 'pro' })).status).toBe(403)
  }, 180_000)

  it('sign out ends the session on the server: the old cookie is refused', async () => {
    const { admin } = await tenantWithAdmin('signout')
    const cookie = (await admin.context.cookies(stack.url)).find((c) => c.name === 'cic_session')
    expect(cookie?.value).toBeTruthy()
    const withOldCookie = () => fetch(`${stack.url}/dashboard/api/me`, { headers: { cookie: `cic_session=${cookie?.value}` } })
    expect((await withOldCookie()).status).toBe(200)

    await admin.page.getByRole('button', { name: 'Sign out' }).click()
    await admin.page.getByRole('button', { name: 'Sign in with Google' }).waitFor()
    await screenshot(admin.page, 'signed-out')
    expect((await withOldCookie()).status).toBe(401)
  }, 180_000)

  it('operator pages render: overview chart, tenants, audit log naming the user, dead letters, meter pushes', async () => {
    const page = operator.page
    await page.goto(`${stack.url}/dashboard/ops`)
    await page.getByTestId('overview-chart').waitFor()
    await screenshot(page, 'operator-overview')
    await page.goto(`${stack.url}/dashboard/ops/audit`)
    await expect.poll(() => page.getByTestId('audit-log').textContent()).toContain(`user:${operator.email}`)
    await screenshot(page, 'operator-audit')
    for (const [path, heading] of [
      ['/dashboard/ops/dead-letters', 'Dead letters'],
      ['/dashboard/ops/meter-pushes', 'Meter pushes'],
      ['/dashboard/ops/tenants', 'Tenants'],
    ]) {
      await page.goto(stack.url + path)
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe(heading)
      await page.getByRole('table').first().waitFor()
      expect(await page.locator('main').textContent()).not.toMatch(/\bnull\b|undefined|\[object /)
    }
  }, 120_000)

  it('operator sets a price and sees it listed; sets a fleet and sees desired against actual', async () => {
    const page = operator.page
    const model = `Org/browser-${crypto.randomUUID().slice(0, 6)}`
    await page.goto(`${stack.url}/dashboard/ops/prices`)
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Prices')
    const priceForm = page.getByRole('form', { name: 'Set a price' })
    await priceForm.getByLabel('Model').fill(model)
    await priceForm.getByLabel('Input USD / M tokens').fill('0.6')
    await priceForm.getByLabel('Output USD / M tokens').fill('1.234567')
    await priceForm.getByLabel('Cached-prompt price, USD / M tokens').fill('0.15')
    await priceForm.getByRole('button', { name: 'Set price' }).click()
    await expect.poll(() => page.getByRole('status').textContent()).toContain(`Price of ${model} set`)
    // Listed, with the exact amounts the server stored (six decimals), as a version ahead (default start: in 5 min).
    const row = page.getByTestId('prices').getByRole('row').filter({ hasText: model })
    await expect.poll(() => row.textContent()).toContain('$0.600000 / $1.234567, cached prompt $0.150000')
    expect(await row.textContent()).toContain('(ahead)')
    const listed = await consoleApi(stack.url, operator, 'GET', '/prices')
    const book = (listed.json as { data: { model: string; data: { input: string; output: string }[] }[] }).data.find((b) => b.model === model)
    expect(book?.data).toMatchObject([{ input: '0.600000', output: '1.234567', cached_input: '0.150000' }])
    await screenshot(page, 'operator-prices')

    // A fleet with min_ready 0 (nothing to launch), set in the form, listed with its desired and actual state.
    await page.goto(`${stack.url}/dashboard/ops/fleet`)
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Fleets')
    const fleetForm = page.getByRole('form', { name: 'Set a fleet' })
    await fleetForm.getByLabel('Model').fill(model)
    await fleetForm.getByLabel('Min ready').fill('0')
    await fleetForm.getByLabel('Max nodes').fill('1')
    await fleetForm.getByRole('button', { name: 'Save fleet' }).click()
    await expect.poll(() => page.getByRole('status').textContent()).toContain(`Fleet ${model} saved`)
    const fleet = page.locator(`[data-testid="fleet"][data-model="${model}"]`)
    await expect.poll(() => fleet.textContent()).toContain('min ready 0, at most 1 clusters, 1 placement(s)')
    expect(await fleet.getByTestId('fleet-actual').textContent()).toContain('0 ready, 0 launching')
    await screenshot(page, 'operator-fleet')
    const audit = await consoleApi(stack.url, operator, 'GET', `/audit?target=${encodeURIComponent(`fleet:${model}`)}`)
    expect((audit.json as { data: { actor: string; action: string }[] }).data).toMatchObject([{ actor: `user:${operator.email}`, action: 'fleet.put' }])
    // Stop managing it again (its nodes: none).
    await fleet.getByRole('button', { name: 'Stop managing' }).click()
    await expect.poll(() => page.getByRole('status').textContent()).toContain(`Fleet ${model} is no longer managed`)
  }, 120_000)
})
