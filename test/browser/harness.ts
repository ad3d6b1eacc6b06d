// Shared by the browser tests: Debian's Chromium driven by playwright-core, one dev stack (scripts/dev-stack.ts,
// as `npm run dev` runs it, OIDC and Stripe stand-ins included), sign-in through the OIDC stand-in's page,
// console API calls from a signed-in browser context (cookie + CSRF token), CSP violations collected per page,
// and screenshots written to test-artifacts/screenshots/ (gitignored).
import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { ensureDevVars } from '../../scripts/dev-stack.ts'

const ROOT = path.resolve(import.meta.dirname, '..', '..')
export const SCREENSHOTS = path.join(ROOT, 'test-artifacts', 'screenshots')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Chromium from Debian's `chromium` package (.ci/run installs it); a clear failure when it is missing. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The browser tests need Chromium at ${CHROMIUM}: install Debian's \`chromium\` package (apt-get install chromium; .ci/run does it), or set CHROMIUM_PATH.`,
    )
  }
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
}

/** The operator configured for local development (.dev.vars OPERATOR_EMAILS, first entry). */
export function operatorEmail(): string {
  const email = (ensureDevVars().OPERATOR_EMAILS ?? '').split(',')[0]?.trim()
  if (!email) throw new Error('.dev.vars has no OPERATOR_EMAILS: the console needs a local operator')
  return email
}

export const uniqueEmail = (who: string) => `${who}-${crypto.randomUUID().slice(0, 8)}@example.test`

export type Console = { context: BrowserContext; page: Page; cspViolations: string[]; email: string }

/** A new browser profile (own cookies) with one page; page errors and CSP reports are collected. */
export async function openConsole(browser: Browser, email: string, consoleOrigin: string): Promise<Console> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: 'Europe/Paris', locale: 'en-GB' })
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(consoleOrigin).origin })
  const page = await context.newPage()
  const cspViolations: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text())
  })
  page.on('pageerror', (error) => cspViolations.push(`page error: ${error.message}`))
  page.on('dialog', (dialog) => void dialog.accept()) // confirm() before revoke/terminate
  return { context, page, cspViolations, email }
}

/** Signs in through the console's button and the OIDC stand-in's page, then waits to be back on the console. */
export async function signIn(consoleUrl: string, c: Console, startPath = '/dashboard'): Promise<void> {
  await c.page.goto(consoleUrl + startPath)
  await c.page.getByRole('button', { name: 'Sign in with Google' }).click()
  await c.page.locator('input[name="email"]').fill(c.email)
  await c.page.getByRole('button', { name: 'Sign in' }).click()
  await c.page.waitForURL((url) => url.origin === new URL(consoleUrl).origin && url.pathname.startsWith('/dashboard'))
  await c.page.getByRole('button', { name: 'Sign out' }).waitFor() // /me answered: the app knows who this is
}

/** A console API call with the browser's session cookie and its CSRF token (what the app does). */
export async function consoleApi(consoleUrl: string, c: Console, method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const me = await c.context.request.get(`${consoleUrl}/dashboard/api/me`)
  const csrf = me.ok() ? ((await me.json()) as { csrf_token: string }).csrf_token : ''
  const res = await c.context.request.fetch(`${consoleUrl}/dashboard/api${route}`, {
    method,
    headers: { 'x-csrf-token': csrf, origin: consoleUrl, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    data: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status(), json: await res.json().catch(() => null) }
}

/** Also checks the page shows no raw JavaScript values where text belongs ("undefined", "[object …]"). */
export async function screenshot(page: Page, name: string): Promise<void> {
  // The console's pages (the Stripe stand-in's have no <main>).
  const text = (await page.locator('main').count()) > 0 ? ((await page.locator('main').textContent()) ?? '') : ''
  if (/undefined|\[object /.test(text)) throw new Error(`${name}: raw values on the page: ${text.slice(0, 800)}`)
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true })
}

/** The admin API with the stack's root token (test setup only: the console never holds it). */
export { adminCall as adminApi } from '../../scripts/dev-stack.ts'

export function chat(url: string, key: string, content: string, maxTokens = 5) {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'cic-demo-llm', messages: [{ role: 'user', content }], max_tokens: maxTokens }),
  })
}
