// A tenant's API keys: create with a name (the key is shown once, with a Copy button) and revoke. Members create
// their own keys; admins and operators revoke any (the server decides; a refused revoke shows its error).
import { api, enc, list } from '../api.js'
import { field, h, notice, status, table, when } from '../dom.js'

export async function keysPage(_ctx, tenant) {
  const base = `/tenants/${enc(tenant.id)}/keys`
  const section = h('section', {}, h('h1', {}, 'API keys'))
  const message = h('div', { 'aria-live': 'polite' })
  const holder = h('div')

  async function refresh() {
    const keys = list(await api('GET', base), 'keys')
    holder.replaceChildren(
      table(
        ['Name', 'Prefix', 'Created', 'State', ''],
        keys,
        (key) => [
          key.name ?? '–',
          h('code', {}, key.prefix),
          when(key.created_at),
          key.revoked_at ? status('revoked') : status('active'),
          key.revoked_at || key.can_revoke === false
            ? null
            : h(
                'button',
                {
                  type: 'button',
                  'aria-label': `Revoke ${key.name || key.prefix}`,
                  onclick: async (event) => {
                    if (!confirm(`Revoke key ${key.name || key.prefix}? Requests with it fail at once.`)) return
                    event.currentTarget.disabled = true
                    try {
                      await api('DELETE', `${base}/${enc(key.id)}`)
                      message.replaceChildren(notice('ok', `Key ${key.prefix} revoked.`))
                    } catch (err) {
                      message.replaceChildren(notice('error', err.message))
                    }
                    await refresh()
                  },
                },
                'Revoke',
              ),
        ],
        { 'data-testid': 'keys-table' },
      ),
    )
  }

  const nameInput = h('input', { name: 'name', required: true, maxlength: 200, autocomplete: 'off' })
  const form = h(
    'form',
    {
      'aria-label': 'Create key',
      onsubmit: async (event) => {
        event.preventDefault()
        const submit = form.querySelector('button[type=submit]')
        submit.disabled = true
        try {
          const created = await api('POST', base, { name: nameInput.value.trim() })
          nameInput.value = ''
          message.replaceChildren(newKeyBox(created))
          await refresh()
        } catch (err) {
          message.replaceChildren(notice('error', err.message))
        } finally {
          submit.disabled = false
        }
      },
    },
    field('Key name', nameInput),
    h('button', { type: 'submit', class: 'primary' }, 'Create key'),
  )
  await refresh()
  section.append(h('h2', {}, 'Create key'), form, message, h('h2', {}, 'Keys'), holder)
  return section
}

/** The new key, shown once: the server never returns it again. */
function newKeyBox(created) {
  const copied = h('span', { class: 'hint', 'aria-live': 'polite' })
  return h(
    'div',
    { class: 'new-key' },
    h('p', {}, `New key "${created.name ?? ''}" (${created.prefix}). Copy it now: it is shown only once.`),
    h('code', { 'data-testid': 'new-key' }, created.key),
    h(
      'button',
      {
        type: 'button',
        onclick: async () => {
          try {
            await navigator.clipboard.writeText(created.key)
            copied.textContent = 'Copied.'
          } catch {
            copied.textContent = 'Copy failed: select the key and copy it by hand.'
          }
        },
      },
      'Copy',
    ),
    copied,
  )
}
