// The console's chart library is Chart.js from npm, vendored unchanged into public/ (served as a static asset, no
// CDN): the committed copy must be the installed package's file, so `npm install chart.js@x` + copy is the update.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(import.meta.dirname, '..', '..')

describe('vendored Chart.js', () => {
  it('is byte for byte the chart.js devDependency’s UMD bundle', () => {
    const vendored = readFileSync(path.join(ROOT, 'public/dashboard/assets/vendor/chart.umd.min.js'))
    const installed = readFileSync(path.join(ROOT, 'node_modules/chart.js/dist/chart.umd.min.js'))
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }
    expect(vendored.toString('utf8', 0, 40)).toContain(`Chart.js v${pkg.devDependencies['chart.js']}`)
    expect(vendored.equals(installed)).toBe(true)
  })
})
