// The vllm_args allowlist: which `vllm serve` flags an admin may add to a launch. Imported by the launch API
// (schemas/node-ops.ts, a 400 naming the flag) and by orchestrator-runner before it renders the task (defence in
// depth: a message that got past the API, or a launch spec stored before this list, is still refused).
//
// vLLM's FlexibleArgumentParser maps `_` to `-` in a flag's name and argparse accepts unambiguous prefixes and
// short forms (platform-facts §10; vllm/utils/argparse_utils.py), so a deny-list is bypassable (`--api_key=x`,
// `--api-ke=x`, `-tp=1`). Here every flag must be one of the exact long names below after `_` → `-`; short forms,
// prefixes, unknown flags and the flags the task template sets itself are refused.

/** How a flag takes its value: `bool` flags take none (`store_true`); the others one, as `--f=v` or `--f v`. */
type FlagKind = 'bool' | 'int' | 'number' | 'text'

/**
 * Flags operators need, with vLLM's names (vllm/engine/arg_utils.py EngineArgs and
 * vllm/entrypoints/openai/cli_args.py). Left out on purpose: anything that reads a local file or loads Python
 * (`--config`, `--tool-parser-plugin`, `--chat-template`, `--allowed-local-media-path`, `--middleware`), changes
 * where or how the server listens (`--ssl-*`, `--root-path`, `--uds`), logs prompts (`--enable-log-requests`),
 * or takes JSON (the charset of an argument keeps braces and quotes out anyway).
 */
export const VLLM_FLAG_ALLOWLIST: Readonly<Record<string, FlagKind>> = {
  '--max-model-len': 'int',
  '--gpu-memory-utilization': 'number',
  '--dtype': 'text',
  '--quantization': 'text',
  '--kv-cache-dtype': 'text',
  '--max-num-seqs': 'int',
  '--max-num-batched-tokens': 'int',
  '--enable-prefix-caching': 'bool',
  '--enable-chunked-prefill': 'bool',
  '--enable-prompt-tokens-details': 'bool',
  '--enable-force-include-usage': 'bool',
  '--seed': 'int',
  '--revision': 'text',
  '--tokenizer': 'text',
  '--tokenizer-revision': 'text',
  '--tokenizer-mode': 'text',
  '--block-size': 'int',
  '--swap-space': 'number',
  '--cpu-offload-gb': 'number',
  '--max-logprobs': 'int',
  '--enforce-eager': 'bool',
  '--disable-log-stats': 'bool',
  '--disable-sliding-window': 'bool',
  '--enable-auto-tool-choice': 'bool',
  '--tool-call-parser': 'text',
  '--reasoning-parser': 'text',
  '--generation-config': 'text',
  '--disable-fastapi-docs': 'bool',
  // Runs code from the model's repository on the node, next to its secrets: only with the launch's explicit
  // `allow_remote_code: true` (audited with the launch).
  '--trust-remote-code': 'bool',
}

/**
 * Set by the launch template (orchestrator-runner/src/skypilot/task-yaml.ts: `vllm serve "$MODEL_NAME" --host
 * --port --api-key --tensor-parallel-size`) or naming the model another way; argparse keeps the last value, so
 * an override would break auth, routing, registration or the GPU split (tensor parallel = gpu_count).
 */
export const RESERVED_VLLM_FLAGS = ['--host', '--port', '--api-key', '--served-model-name', '--model', '--tensor-parallel-size'] as const

export const REMOTE_CODE_FLAG = '--trust-remote-code'

/** `index` is the refused element of the array, `flag` the flag as written (or the stray value). */
export type VllmArgsCheck = { ok: true } | { ok: false; index: number; flag: string; message: string }

const INT = /^-?\d+$/
const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)$/

function valueProblem(name: string, kind: FlagKind, value: string): string | null {
  if (kind === 'int' && !INT.test(value)) return `${name} takes an integer, not '${value}'`
  if (kind === 'number' && !NUMBER.test(value)) return `${name} takes a number, not '${value}'`
  if (value === '') return `${name} needs a value`
  return null
}

/**
 * Checks vllm_args as `vllm serve` would read them (the array is joined with spaces on the node). The first
 * refused argument decides; `flag` names it as written. `allowRemoteCode` is the launch's explicit switch.
 */
export function checkVllmArgs(args: readonly string[], options: { allowRemoteCode: boolean }): VllmArgsCheck {
  for (let i = 0; i < args.length; i++) {
    const at = i
    const refuse = (flag: string, message: string): VllmArgsCheck => ({ ok: false, index: at, flag, message })
    const arg = args[i] as string
    if (!arg.startsWith('-')) return refuse(arg, `'${arg}' is not a flag: a value must follow the flag that takes it`)
    if (!arg.startsWith('--')) return refuse(arg, `short options such as '${arg}' are not accepted: use the full --flag name`)
    const eq = arg.indexOf('=')
    const written = eq === -1 ? arg : arg.slice(0, eq)
    const name = `--${written.slice(2).replaceAll('_', '-')}` // what vLLM's parser reads
    if ((RESERVED_VLLM_FLAGS as readonly string[]).includes(name)) {
      return refuse(written, `${written} is set by the launch template and may not be overridden`)
    }
    const kind = VLLM_FLAG_ALLOWLIST[name]
    if (kind === undefined) {
      return refuse(
        written,
        `${written} is not an allowed vLLM flag (exact long names only, no abbreviations); allowed: ${Object.keys(VLLM_FLAG_ALLOWLIST).join(', ')}`,
      )
    }
    if (name === REMOTE_CODE_FLAG && !options.allowRemoteCode) {
      return refuse(written, `${REMOTE_CODE_FLAG} runs the model repository's code on the node; set allow_remote_code: true on the launch to enable it`)
    }
    if (kind === 'bool') {
      if (eq !== -1) return refuse(written, `${written} takes no value`)
      continue
    }
    let value: string
    if (eq !== -1) value = arg.slice(eq + 1)
    else {
      const next = args[i + 1]
      if (next === undefined || next.startsWith('-')) return refuse(written, `${written} needs a value (--flag=value or --flag value)`)
      value = next
      i++
    }
    const problem = valueProblem(written, kind, value)
    if (problem) return refuse(written, problem)
  }
  return { ok: true }
}
