// A tenant's members and open invites (tenant admins and operators): invite by email and role (no mailer: the
// invite link is shown to pass on), remove a member, withdraw an invite.
import { api, enc } from '../api.js'
import { field, h, notice, table, when } from '../dom.js'
import { canAdminister } from './roles.js'

const ROLES = [
  ['tenant_member', 'Member'],
  ['tenant_admin', 'Admin'],
]

export async function membersPage(ctx, tenant) {
  const base = `/tenants/${enc(tenant.id)}`
  const isAdmin = canAdminister(ctx.me, tenant.id)
  const message = h('div', { 'aria-live': 'polite' })
  const holder = h('div')
  const act = async (fn) => {
    try {
      await fn()
    } catch (err) {
      message.replaceChildren(notice('error', err.message))
    }
    await refresh()
  }

  async function refresh() {
    const { members = [], invites = [] } = await api('GET', `${base}/members`)
    holder.replaceChildren(
      // h() (not replaceChildren) takes the optional, nested invite list
      h(
        'div',
        {},
        h('h2', {}, 'Members'),
        table(
          ['Email', 'Role', ''],
          members,
          (m) => [
            m.email,
            m.role,
            m.user_id === ctx.me.user.id
              ? h('span', { class: 'hint' }, 'you')
              : !isAdmin
                ? null
                : h(
                    'button',
                    {
                      type: 'button',
                      'aria-label': `Remove ${m.email}`,
                      onclick: () => confirm(`Remove ${m.email} from ${tenant.name}?`) && act(() => api('DELETE', `${base}/members/${enc(m.user_id)}`)),
                    },
                    'Remove',
                  ),
          ],
          { 'data-testid': 'members-table' },
        ),
        // Pending invites are for those who manage members (the server sends members none).
        isAdmin && [
          h('h2', {}, 'Open invites'),
          table(['Email', 'Role', 'Invited by', 'Created', 'Expires', ''], invites, (i) => [
            i.email,
            i.role,
            i.created_by,
            when(i.created_at),
            when(i.expires_at),
            h(
              'button',
              { type: 'button', 'aria-label': `Withdraw invite for ${i.email}`, onclick: () => act(() => api('DELETE', `${base}/invites/${enc(i.id)}`)) },
              'Withdraw',
            ),
          ]),
        ],
      ),
    )
  }

  const email = h('input', { name: 'email', type: 'email', required: true, autocomplete: 'off' })
  const role = h(
    'select',
    { name: 'role' },
    ROLES.map(([value, label]) => h('option', { value }, label)),
  )
  const form = h(
    'form',
    {
      'aria-label': 'Invite member',
      onsubmit: async (event) => {
        event.preventDefault()
        try {
          const invite = await api('POST', `${base}/invites`, { email: email.value.trim(), role: role.value })
          email.value = ''
          message.replaceChildren(
            h(
              'div',
              { class: 'notice ok', role: 'status' },
              `Invite for ${invite.email} (${invite.role}). Send them this link; they accept it by signing in with that Google account: `,
              h('code', { 'data-testid': 'invite-link' }, invite.invite_url),
            ),
          )
        } catch (err) {
          message.replaceChildren(notice('error', err.message))
        }
        await refresh()
      },
    },
    field('Email', email),
    field('Role', role),
    h('button', { type: 'submit', class: 'primary' }, 'Invite member'),
  )
  await refresh()
  // Members see who is in the tenant; admins and operators also invite, remove and withdraw.
  return h('section', {}, h('h1', {}, 'Members'), isAdmin ? [h('h2', {}, 'Invite member'), form] : null, message, holder)
}
