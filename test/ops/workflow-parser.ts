// Validates GitHub Actions workflow files with GitHub's own parser (@actions/workflow-parser, from
// actions/languageservices: the schema and checks behind the Actions editor), for test/ops/workflows.test.ts.
import { readFileSync } from 'node:fs'
import { registerHooks } from 'node:module'
import path from 'node:path'

// The package imports its schema (workflow-v1.0.min.json) without `with { type: 'json' }`, which Node refuses
// (ERR_IMPORT_ATTRIBUTE_MISSING) when vitest loads the package natively: add the attribute for its JSON files.
registerHooks({
  load(url, context, nextLoad) {
    if (url.includes('/@actions/workflow-parser/') && url.endsWith('.json')) {
      return nextLoad(url, { ...context, importAttributes: { ...context.importAttributes, type: 'json' } })
    }
    return nextLoad(url, context)
  },
})
const { NoOperationTraceWriter, convertWorkflowTemplate, parseWorkflow } = await import('@actions/workflow-parser')

/**
 * Every error GitHub would report for the file: schema errors (unknown keys, a job without `runs-on`, bad
 * expressions or contexts) and semantic ones (`needs` naming no job). Empty when the workflow is valid.
 */
export async function workflowErrors(file: string): Promise<string[]> {
  const parsed = parseWorkflow({ name: path.basename(file), content: readFileSync(file, 'utf8') }, new NoOperationTraceWriter())
  const errors = parsed.context.errors.getErrors().map((e) => e.message)
  if (!parsed.value) return errors
  const template = await convertWorkflowTemplate(parsed.context, parsed.value)
  return [...new Set([...errors, ...(template.errors ?? []).map((e) => e.Message)])]
}
