// The dashboard's browser script is a string in workers/src/dashboard/script.ts: check here, in Node, that it
// parses as a script (workerd forbids compiling code at run time, so this cannot be checked in the Worker tests).
import vm from 'node:vm'
import { expect, it } from 'vitest'
import { DASHBOARD_JS } from '../workers/src/dashboard/script.ts'

it('is valid JavaScript', () => {
  expect(() => new vm.Script(DASHBOARD_JS, { filename: 'dashboard/app.js' })).not.toThrow()
})
