// The console's entry: reads who is signed in (GET /me), then routes /dashboard/* paths to pages (history API, no
// reloads). Signed out: the "Sign in with Google" page; signed in with no role: "You have no access" and nothing
// else. Pages are async functions returning a node; one that polls registers a cleanup with ctx.onLeave.
import { api, ApiError, setCsrfToken, signOut } from './api.js'
import { h, notice } from './dom.js'
import { noAccessPage, signedOutPage } from './pages/auth.js'
import { operatorRoutes } from './pages/operator.js'
import { tenantRoutes, tenantsPage } from './pages/tenant.js'

const main = document.getElementById('main')
const nav = document.getElementById('nav')
const who = document.getElementById('who')
const signOutButton = document.getElementById('sign-out')
let me = null
let leaving = []
let renderCount = 0

const routes = [...operatorRoutes, ...tenantRoutes, { pattern: /^\/dashboard\/tenants\/?$/, page: tenantsPage }]

export function navigate(path) {
  if (path !== location.pathname + location.search) history.pushState(null, '', path)
  void render()
}

function homePath() {
  if (me.operator) return '/dashboard/ops'
  if (me.memberships.length === 1) return `/dashboard/tenants/${encodeURIComponent(me.memberships[0].tenant_id)}`
  return '/dashboard/tenants'
}

function renderNav() {
  const links = me.operator
    ? [
        ['Overview', '/dashboard/ops'],
        ['Tenants', '/dashboard/ops/tenants'],
        ['Nodes', '/dashboard/ops/nodes'],
        ['Dead letters', '/dashboard/ops/dead-letters'],
        ['Meter pushes', '/dashboard/ops/meter-pushes'],
        ['Audit log', '/dashboard/ops/audit'],
        ['Fleet', '/dashboard/ops/fleet'],
        ['Prices', '/dashboard/ops/prices'],
      ]
    : me.memberships.map((m) => [m.tenant_name ?? m.tenant_id, `/dashboard/tenants/${encodeURIComponent(m.tenant_id)}`])
  nav.replaceChildren(...links.map(([label, href]) => h('a', { href, 'aria-current': location.pathname === href ? 'page' : null }, label)))
  who.textContent = me.user.email
  signOutButton.hidden = false
}

async function render() {
  const count = ++renderCount
  for (const leave of leaving) leave()
  leaving = []
  if (!me) return
  if (!me.operator && me.memberships.length === 0) {
    nav.replaceChildren()
    who.textContent = me.user.email
    signOutButton.hidden = false
    main.replaceChildren(noAccessPage())
    return
  }
  const path = location.pathname.replace(/\/+$/, '') || '/dashboard'
  if (path === '/dashboard') return navigate(homePath())
  renderNav()
  const route = routes.map((r) => ({ r, match: r.pattern.exec(path) })).find((x) => x.match)
  if (!route) {
    main.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, 'No console page at this address.'))
    return
  }
  const ctx = {
    me,
    params: route.match.groups ?? {},
    search: new URLSearchParams(location.search),
    navigate,
    onLeave: (fn) => leaving.push(fn),
    isCurrent: () => count === renderCount,
  }
  try {
    const node = await route.r.page(ctx)
    if (count === renderCount) main.replaceChildren(node)
  } catch (err) {
    if (count !== renderCount) return
    if (err instanceof ApiError && err.status === 401) return start()
    main.replaceChildren(h('h1', {}, err instanceof ApiError && err.status === 403 ? 'Not allowed' : 'Something went wrong'), notice('error', err.message))
  }
}

async function start() {
  try {
    me = await api('GET', '/me')
    setCsrfToken(me.csrf_token)
  } catch (err) {
    me = null
    nav.replaceChildren()
    who.textContent = ''
    signOutButton.hidden = true
    if (err instanceof ApiError && err.status === 401) main.replaceChildren(signedOutPage())
    else main.replaceChildren(h('h1', {}, 'The console is unavailable'), notice('error', err.message))
    return
  }
  await render()
}

// Links inside the console navigate without a reload; downloads (usage CSV) and other origins are left alone.
document.addEventListener('click', (event) => {
  const link = event.target instanceof Element ? event.target.closest('a[href]') : null
  if (!link || link.hasAttribute('download') || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return
  const url = new URL(link.href, location.href)
  if (url.origin !== location.origin || !url.pathname.startsWith('/dashboard') || url.pathname.startsWith('/dashboard/api')) return
  if (url.pathname.startsWith('/dashboard/login') || url.pathname.startsWith('/dashboard/invites')) return
  event.preventDefault()
  navigate(url.pathname + url.search)
})
window.addEventListener('popstate', () => void render())
signOutButton.addEventListener('click', async () => {
  signOutButton.disabled = true
  try {
    await signOut()
    me = null
    history.pushState(null, '', '/dashboard')
    await start()
  } catch (err) {
    main.prepend(notice('error', err.message))
  } finally {
    signOutButton.disabled = false
  }
})

void start()
