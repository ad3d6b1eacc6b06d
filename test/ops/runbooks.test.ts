// The runbooks (docs/runbooks/): every alert's runbook_url is a file there that names the alert, every runbook is
// linked from the index, says which alert leads to it and how to confirm the fix, and its links resolve.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT, readAlertRules } from './alert-rules.ts'

const RUNBOOKS = path.join(REPO_ROOT, 'docs/runbooks')
const pages = readdirSync(RUNBOOKS)
  .filter((f) => f.endsWith('.md') && f !== 'README.md')
  .sort()
const read = (file: string) => readFileSync(path.join(RUNBOOKS, file), 'utf8')
/** Relative Markdown link targets (`[text](target)`), without anchors; URLs left out. */
const linksIn = (markdown: string) => [...markdown.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!.split('#')[0]!).filter((t) => t !== '' && !/^[a-z]+:/.test(t))

describe('runbooks', () => {
  it('every alert points at a runbook that exists and names the alert', () => {
    for (const rule of readAlertRules()) {
      const url = rule.annotations?.runbook_url ?? ''
      expect(url, rule.alert).toMatch(/^docs\/runbooks\/[a-z0-9-]+\.md$/)
      const file = path.join(REPO_ROOT, url)
      expect(existsSync(file), `${rule.alert}: ${url}`).toBe(true)
      expect(readFileSync(file, 'utf8'), `${url} names ${rule.alert}`).toContain(`\`${rule.alert}\``)
    }
  })

  it('the index links every runbook, and only existing ones', () => {
    const linked = new Set(linksIn(read('README.md')).filter((t) => !t.includes('/')))
    expect(pages.filter((p) => !linked.has(p))).toEqual([])
    expect([...linked].filter((t) => !pages.includes(t))).toEqual([])
  })

  it.each(pages)('%s says which alert leads to it and how to confirm the fix', (page) => {
    const text = read(page)
    expect(text).toMatch(/^\*\*Alerts?:\*\* /m)
    expect(text).toMatch(/^## Confirm$/m)
  })

  it.each(['README.md', ...pages])('%s links only to files that exist', (page) => {
    for (const target of linksIn(read(page))) expect(existsSync(path.join(RUNBOOKS, target)), `${page} → ${target}`).toBe(true)
  })

  it('the link check sees links (so it can fail)', () => {
    expect(linksIn('see [a](a.md#x), [b](../b.md) and [c](https://example.com)')).toEqual(['a.md', '../b.md'])
  })
})
