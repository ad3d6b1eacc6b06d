// The stand-in's versions of Stripe's hosted pages: Checkout (one "Subscribe" button completes the session) and the
// Customer Portal (subscriptions, cancel, back to the site). Plain HTML forms, every value escaped.
type Json = Record<string, unknown>

const escapeHtml = (value: unknown) =>
  String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;')

const money = (cents: unknown) => `$${(Number(cents) / 100).toFixed(2)}`

const layout = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} (Stripe stand-in)</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:560px;margin:3rem auto;padding:0 1rem;color:#1a1f36}
.box{border:1px solid #e3e8ee;border-radius:8px;padding:1.2rem 1.4rem}button{font:inherit;padding:.5rem 1.2rem;border-radius:6px;border:0;background:#635bff;color:#fff;cursor:pointer}
.muted{color:#697386}table{width:100%;border-collapse:collapse}td{padding:.3rem 0}a{color:#635bff}</style>
</head><body><p class="muted">Stripe stand-in (local development; no money moves)</p>${body}</body></html>
`

export function checkoutPage(session: Json | null, lineItems: { price: Json; quantity: number }[]): string {
  if (!session) return layout('Checkout', '<h1>This Checkout session is not open</h1><p>It is unknown, already completed or expired.</p>')
  const rows = lineItems
    .map(
      (l) =>
        `<tr><td>${escapeHtml(l.price.nickname ?? l.price.id)} × ${l.quantity}</td><td>${money(Number(l.price.unit_amount) * l.quantity)} / ${escapeHtml((l.price.recurring as Json | null)?.interval ?? '')}</td></tr>`,
    )
    .join('')
  const email = session.customer_email ?? (session.customer ? `customer ${session.customer}` : '')
  return layout(
    'Checkout',
    `<h1>Subscribe</h1><div class="box"><table>${rows}</table><p class="muted">${escapeHtml(email)}</p>
<form method="post" action="/checkout/${escapeHtml(session.id)}/complete"><button type="submit">Subscribe</button></form></div>
${session.cancel_url ? `<p><a href="${escapeHtml(session.cancel_url)}">Cancel and go back</a></p>` : ''}`,
  )
}

export function portalPage(portal: Json | null, customer: Json | null, subscriptions: Json[]): string {
  if (!portal || !customer) return layout('Billing portal', '<h1>This portal session is unknown</h1>')
  const rows = subscriptions
    .map((s) => {
      const item = ((s.items as Json).data as Json[])[0]
      const price = item?.price as Json | undefined
      const cancel =
        s.status === 'canceled'
          ? ''
          : `<form method="post" action="/portal/${escapeHtml(portal.id)}/cancel/${escapeHtml(s.id)}"><button type="submit">Cancel subscription</button></form>`
      return `<tr><td>${escapeHtml(price?.nickname ?? s.id)}</td><td>${escapeHtml(s.status)}</td><td>${cancel}</td></tr>`
    })
    .join('')
  return layout(
    'Billing portal',
    `<h1>Billing portal</h1><div class="box"><p>${escapeHtml(customer.email ?? customer.id)}</p>
<h2>Subscriptions</h2><table>${rows || '<tr><td class="muted">None</td></tr>'}</table>
<h2>Invoices</h2><p class="muted">The stand-in keeps no invoices.</p></div>
${portal.return_url ? `<p><a href="${escapeHtml(portal.return_url)}">Return to CIC</a></p>` : ''}`,
  )
}
