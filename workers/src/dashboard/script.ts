// The operator dashboard's browser script (served as /dashboard/app.js). Plain DOM, no framework: it reads the
// admin API with the token the operator typed, and writes every value with textContent (tenant and key names
// are user input, so no HTML is ever built from data).

export const DASHBOARD_JS = `'use strict';
const TOKEN_KEY = 'cic-admin-token';
const HOUR_MS = 3600000;
const $ = (id) => document.getElementById(id);
let selectedTenant = null;
let refreshTimer = null;

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: 'Bearer ' + sessionStorage.getItem(TOKEN_KEY), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401) { signOut('The admin token was refused.'); throw new Error('unauthorized'); }
  if (!res.ok) throw new Error((data && data.error && data.error.message) || (method + ' ' + path + ' -> ' + res.status));
  return data;
}

function cell(row, value, className) {
  const td = row.insertCell();
  td.textContent = value === null || value === undefined || value === '' ? '-' : String(value);
  if (className) td.className = className;
  return td;
}
const when = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '-');
const percent = (x) => (x === null || x === undefined ? null : Math.round(x * 100) + '%');
const statusClass = (s) => ({ ready: 'ok', active: 'ok', closed: 'ok', warming: 'warn', launching: 'warn', queued: 'warn', draining: 'warn', 'half-open': 'warn', half_open: 'warn' }[s] || 'bad');
function setStatus(text) { $('status').textContent = text; }

function fillTable(id, items, fill) {
  const body = $(id).tBodies[0];
  body.replaceChildren();
  for (const item of items) fill(body.insertRow(), item);
}

function drawUsage(usage, from) {
  const chart = $('usage-chart');
  const svgNs = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('viewBox', '0 0 960 180');
  const byHour = new Map(usage.data.map((r) => [r.start, r]));
  const hours = Array.from({ length: 24 }, (_, i) => from + i * HOUR_MS);
  const max = Math.max(1, ...hours.map((h) => (byHour.get(h) || { total_tokens: 0 }).total_tokens));
  const width = 960 / 24;
  hours.forEach((h, i) => {
    const r = byHour.get(h) || { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, requests: 0 };
    let y = 160;
    for (const [key, cls] of [['prompt_tokens', 'bar-prompt'], ['completion_tokens', 'bar-completion']]) {
      const height = (r[key] / max) * 150;
      const rect = document.createElementNS(svgNs, 'rect');
      rect.setAttribute('x', String(i * width + 2)); rect.setAttribute('width', String(width - 4));
      rect.setAttribute('y', String(y - height)); rect.setAttribute('height', String(height));
      rect.setAttribute('class', cls);
      const title = document.createElementNS(svgNs, 'title');
      title.textContent = when(h) + ' UTC: ' + r.prompt_tokens + ' prompt + ' + r.completion_tokens + ' completion tokens, ' + r.requests + ' requests';
      rect.appendChild(title);
      svg.appendChild(rect);
      y -= height;
    }
    if (i % 3 === 0) {
      const label = document.createElementNS(svgNs, 'text');
      label.setAttribute('x', String(i * width + 2)); label.setAttribute('y', '175'); label.setAttribute('class', 'axis');
      label.textContent = new Date(h).toISOString().slice(11, 16);
      svg.appendChild(label);
    }
  });
  chart.replaceChildren(svg);
  const t = usage.totals;
  $('usage-totals').textContent = t.requests + ' requests, ' + t.prompt_tokens + ' prompt and ' + t.completion_tokens + ' completion tokens (light: prompt, dark: completion; hours in UTC)';
}

async function loadTenantDetail() {
  if (!selectedTenant) return;
  const [keys, usage] = await Promise.all([
    api('GET', '/admin/tenants/' + encodeURIComponent(selectedTenant.id) + '/keys'),
    api('GET', '/admin/tenants/' + encodeURIComponent(selectedTenant.id) + '/usage'),
  ]);
  $('tenant-detail').hidden = false;
  $('tenant-title').textContent = selectedTenant.name + ' (' + selectedTenant.id + ')';
  const models = usage.by_model.map((m) => m.model + ' ' + m.total_tokens).join(', ');
  $('tenant-usage').textContent = 'All-time usage: ' + usage.requests + ' requests, ' + usage.total_tokens + ' tokens' + (models ? ' (' + models + ')' : '');
  fillTable('keys', keys.data, (row, k) => {
    cell(row, k.prefix + '...'); cell(row, k.name); cell(row, when(k.created_at)); cell(row, k.revoked_at ? when(k.revoked_at) : null, k.revoked_at ? 'bad' : '');
    const td = row.insertCell();
    if (!k.revoked_at) {
      const button = document.createElement('button');
      button.textContent = 'Revoke';
      button.addEventListener('click', async () => {
        if (!confirm('Revoke key ' + k.prefix + '...? Requests with it fail at once.')) return;
        await api('DELETE', '/admin/keys/' + encodeURIComponent(k.id)).catch(showError);
        loadTenantDetail().catch(showError);
      });
      td.appendChild(button);
    }
  });
}

async function refresh() {
  const now = Date.now();
  const from = Math.floor(now / HOUR_MS) * HOUR_MS - 23 * HOUR_MS;
  const [usage, nodes, tenants, audit] = await Promise.all([
    api('GET', '/admin/usage?group_by=hour&from=' + from + '&to=' + (from + 24 * HOUR_MS)),
    api('GET', '/admin/nodes'),
    api('GET', '/admin/tenants'),
    api('GET', '/admin/audit?limit=20'),
  ]);
  drawUsage(usage, from);
  fillTable('nodes', nodes.data, (row, n) => {
    cell(row, n.name); cell(row, n.endpoint); cell(row, (n.models || []).join(', ')); cell(row, n.status, statusClass(n.status));
    const breaker = n.breaker ? n.breaker.state + ' since ' + when(n.breaker.since) : null;
    cell(row, breaker, n.breaker ? statusClass(n.breaker.state) : '');
    cell(row, n.in_flight); cell(row, n.queue_depth); cell(row, percent(n.kv_cache_usage)); cell(row, n.last_error, n.last_error ? 'bad' : '');
  });
  fillTable('tenants', tenants.data, (row, t) => {
    row.className = 'selectable' + (selectedTenant && selectedTenant.id === t.id ? ' selected' : '');
    cell(row, t.name); cell(row, t.status_reason ? t.status + ' (' + t.status_reason + ')' : t.status, statusClass(t.status)); cell(row, t.plan); cell(row, when(t.created_at));
    row.addEventListener('click', () => { selectedTenant = t; $('new-key').hidden = true; refresh().catch(showError); });
  });
  fillTable('audit', audit.data, (row, a) => { cell(row, when(a.at)); cell(row, a.actor); cell(row, a.action); cell(row, a.target); });
  await loadTenantDetail();
  setStatus('updated ' + new Date().toLocaleTimeString());
}

function showError(err) { if (err && err.message !== 'unauthorized') setStatus('error: ' + err.message); }

function signIn() {
  $('sign-in').hidden = true; $('app').hidden = false; $('sign-out').hidden = false;
  refresh().catch(showError);
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => refresh().catch(showError), 5000);
}
function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(refreshTimer);
  $('sign-in').hidden = false; $('app').hidden = true; $('sign-out').hidden = true;
  setStatus(message || '');
}

document.addEventListener('DOMContentLoaded', () => {
  $('token-form').addEventListener('submit', (e) => { e.preventDefault(); sessionStorage.setItem(TOKEN_KEY, $('token').value); $('token').value = ''; signIn(); });
  $('sign-out').addEventListener('click', () => signOut());
  $('tenant-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    selectedTenant = await api('POST', '/admin/tenants', { name: $('tenant-name').value }).catch(showError) || selectedTenant;
    $('tenant-name').value = '';
    refresh().catch(showError);
  });
  $('key-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!selectedTenant) return;
    const name = $('key-name').value;
    const created = await api('POST', '/admin/tenants/' + encodeURIComponent(selectedTenant.id) + '/keys', name ? { name } : {}).catch(showError);
    $('key-name').value = '';
    if (created) { $('new-key-value').textContent = created.key; $('new-key').hidden = false; }
    loadTenantDetail().catch(showError);
  });
  if (sessionStorage.getItem(TOKEN_KEY)) signIn();
});
`
