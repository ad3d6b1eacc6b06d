// The GitHub Actions workflows: each is valid for GitHub (its own parser, test/ops/workflow-parser.ts), and the
// CI/CD workflow does what the README promises: tests in Debian on pull requests, a bundle per environment,
// staging from main, production from a v* tag or by hand, each deploy behind its GitHub environment.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { REPO_ROOT } from './alert-rules.ts'
import { workflowErrors } from './workflow-parser.ts'

const WORKFLOWS = path.join(REPO_ROOT, '.github/workflows')
const workflowFiles = readdirSync(WORKFLOWS)
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => path.join(WORKFLOWS, f))

const step = z.object({ run: z.string().optional(), uses: z.string().optional(), env: z.record(z.string(), z.string()).optional() })
const job = z.object({
  if: z.string().optional(),
  needs: z.array(z.string()).optional(),
  container: z.string().optional(),
  environment: z.string().optional(),
  strategy: z.object({ matrix: z.record(z.string(), z.array(z.string())) }).optional(),
  steps: z.array(step),
})
const ciCd = z.object({ on: z.record(z.string(), z.unknown()), jobs: z.record(z.string(), job) })

describe('GitHub workflows', () => {
  it('there is at least one', () => {
    expect(workflowFiles.length).toBeGreaterThan(0)
  })

  it.each(workflowFiles.map((f) => [path.relative(REPO_ROOT, f), f]))('%s is valid for GitHub Actions', async (_name, file) => {
    expect(await workflowErrors(file)).toEqual([])
  })

  it('a broken workflow is refused, naming each fault', async () => {
    const errors = await workflowErrors(path.join(REPO_ROOT, 'test/ops/fixtures/broken-workflow.yml'))
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringContaining("Unexpected value 'timeout'"),
        expect.stringContaining('Required property is missing: runs-on'),
        expect.stringContaining("Unrecognized named-value: 'nosuchcontext'"),
      ]),
    )
  })

  it('a need on no job is refused', async () => {
    const errors = await workflowErrors(path.join(REPO_ROOT, 'test/ops/fixtures/broken-workflow-needs.yml'))
    expect(errors).toEqual([expect.stringContaining("Job 'deploy' depends on unknown job 'tests'")])
  })
})

describe('CI/CD workflow', () => {
  const wf = ciCd.parse(parse(readFileSync(path.join(WORKFLOWS, 'ci.yml'), 'utf8')))
  const jobs = Object.entries(wf.jobs)
  const runs = (j: z.infer<typeof job>) => j.steps.map((s) => s.run ?? '')

  it('runs on pull requests, pushes to main and v* tags, and by hand', () => {
    expect(Object.keys(wf.on).sort()).toEqual(['pull_request', 'push', 'workflow_dispatch'])
    expect(wf.on.push).toEqual({ branches: ['main'], tags: ['v*'] })
  })

  it('tests with .ci/run in a Debian container, on every event', () => {
    const [, test] = jobs.find(([, j]) => runs(j).includes('bash .ci/run')) ?? []
    expect(test?.container).toMatch(/bookworm|debian/)
    expect(test?.if).toBeUndefined()
  })

  it('bundles both environments with wrangler --dry-run', () => {
    const [, bundle] = jobs.find(([, j]) => runs(j).some((r) => r.includes('wrangler deploy --dry-run'))) ?? []
    expect(bundle?.strategy?.matrix.environment).toEqual(['staging', 'production'])
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a JS template
    expect(runs(bundle!).join('\n')).toContain('--env ${{ matrix.environment }} --outdir dist')
  })

  it.each([
    ['staging', "github.ref == 'refs/heads/main'"],
    ['production', "startsWith(github.ref, 'refs/tags/v')"],
  ])('deploys %s with npm run deploy, behind its GitHub environment, after the tests', (env, condition) => {
    const deploys = jobs.filter(([, j]) => runs(j).includes(`npm run deploy -- --env ${env}`))
    expect(deploys).toHaveLength(1)
    const [, deploy] = deploys[0]!
    expect(deploy.environment).toBe(env)
    expect(deploy.needs).toEqual(expect.arrayContaining(['test', 'bundle']))
    expect(deploy.if).toContain(condition)
    const stepEnv = deploy.steps.find((s) => s.run?.startsWith('npm run deploy'))?.env ?? {}
    expect(Object.keys(stepEnv).sort()).toEqual(['ADMIN_TOKEN', 'CLOUDFLARE_ACCOUNT_ID', 'CLOUDFLARE_API_TOKEN'])
    for (const value of Object.values(stepEnv)) expect(value).toMatch(/^\$\{\{ secrets\.[A-Z_]+ \}\}$/)
  })

  it('deploys production by hand only from main or a v* tag', () => {
    const [, prod] = jobs.find(([, j]) => j.environment === 'production') ?? []
    expect(prod?.if).toContain("github.event_name == 'workflow_dispatch' && (github.ref == 'refs/heads/main' || startsWith(github.ref, 'refs/tags/v'))")
  })
})
