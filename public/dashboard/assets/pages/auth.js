// Pages before any tenant: signed out (the one way in is Google sign-in, via GET /dashboard/login) and signed in
// with no role (the page says so and shows nothing else).
import { h } from '../dom.js'

export function signedOutPage() {
  const returnTo = location.pathname.startsWith('/dashboard') ? location.pathname + location.search : '/dashboard'
  return h(
    'section',
    { class: 'signin' },
    h('h1', {}, 'Sign in to the CIC console'),
    h('p', {}, 'Tenants manage their keys, usage, members and billing here; operators run the fleet.'),
    h(
      'button',
      {
        type: 'button',
        class: 'primary',
        onclick: () => {
          location.assign(`/dashboard/login?return_to=${encodeURIComponent(returnTo)}`)
        },
      },
      'Sign in with Google',
    ),
  )
}

export function noAccessPage() {
  return h('section', {}, h('h1', {}, 'You have no access'))
}
