// DOM building for the console: every value goes in through textContent or a property, never as HTML, so names
// and emails typed by users cannot inject markup (the CSP forbids inline script as a second line of defence).

/**
 * h('button', { type: 'button', onclick }, 'Revoke') -> <button type="button">Revoke</button>.
 * Props: `on<event>` adds a listener, `dataset`/`aria` objects set data-/aria- attributes, `class` the class
 * name; others are set as attributes (false/null/undefined leave them out). Children: nodes, strings, arrays.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value)
    else if (key === 'dataset') Object.assign(el.dataset, value)
    else if (key === 'class') el.className = value
    else if (key === 'value') el.value = value
    else el.setAttribute(key, value === true ? '' : String(value))
  }
  append(el, children)
  return el
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    if (Array.isArray(child)) append(el, child)
    else el.append(child instanceof Node ? child : String(child))
  }
}

/** A labelled form control: <label>Text <input …></label>, the control named exactly Text. */
export function field(label, control) {
  // A <select> inside its <label> would otherwise be named after its options too ("Planstarterpro").
  if (!control.hasAttribute('aria-label')) control.setAttribute('aria-label', label)
  return h('label', { class: 'field' }, h('span', {}, label), control)
}

/** A table with a header row; `row(item)` returns the cells (strings or nodes) of one item. */
export function table(headers, items, row, props = {}) {
  return h(
    'table',
    props,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((name) => h('th', { scope: 'col' }, name)),
      ),
    ),
    h(
      'tbody',
      {},
      items.length === 0
        ? h('tr', {}, h('td', { colspan: headers.length, class: 'hint' }, 'None.'))
        : items.map((item) =>
            h(
              'tr',
              {},
              row(item).map((c) => h('td', {}, c ?? '–')),
            ),
          ),
    ),
  )
}

/** Date and time in the viewer's time zone (the browser's). */
export const when = (value) => {
  if (value === null || value === undefined || value === '') return '–'
  const date = typeof value === 'number' ? new Date(value) : new Date(String(value))
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

export const number = (value) => (typeof value === 'number' ? value.toLocaleString() : (value ?? '–'))

/**
 * A USD amount as the API sends it: an exact decimal string ("1234.500000") shown digit for digit (thousands
 * grouped, never through a float); '–' for anything else.
 */
export function usd(value) {
  const m = typeof value === 'string' ? /^(-?)(\d+)(\.\d+)?$/.exec(value) : null
  if (!m) return '–'
  return `${m[1]}$${m[2].replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${m[3] ?? ''}`
}

/** A status word with a colour class (ready/active = ok; launching/draining = busy; anything else = bad). */
export function status(word) {
  const text = String(word ?? 'unknown')
  const tone = ['ready', 'active', 'closed', 'accepted', 'sent', 'replayed', 'ok'].includes(text)
    ? 'ok'
    : ['launching', 'warming', 'queued', 'draining', 'terminating', 'pending', 'half-open', 'half_open', 'trialing'].includes(text)
      ? 'busy'
      : 'bad'
  return h('span', { class: `status ${tone}` }, text)
}

/** A message area for errors and confirmations (role=status/alert so assistive tech reads it). */
export function notice(kind, text) {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text)
}
