// The vllm_args allowlist as vLLM's parser would read the arguments: each bypass form of the reserved-flag
// guard (underscores, prefixes, short options), unknown flags, value forms, and the remote-code switch.
import { describe, expect, it } from 'vitest'
import { checkVllmArgs, RESERVED_VLLM_FLAGS, VLLM_FLAG_ALLOWLIST } from './vllm-args.ts'

const check = (args: string[], allowRemoteCode = false) => checkVllmArgs(args, { allowRemoteCode })

describe('checkVllmArgs', () => {
  it.each([
    [['--max-model-len=8192']],
    [['--max-model-len', '8192']],
    [['--max_model_len=8192']], // vLLM reads it as --max-model-len
    [['--enable-prompt-tokens-details', '--enable-prefix-caching', '--gpu-memory-utilization=0.92']],
    [['--dtype', 'bfloat16', '--quantization=awq', '--kv-cache-dtype=fp8', '--max-num-seqs', '256', '--seed=-1']],
    [['--enable-chunked-prefill', '--max-num-batched-tokens=8192', '--revision=main', '--tokenizer', 'org/tok']],
    [[]],
  ])('accepts allowed flags in every value form (%#)', (args) => {
    expect(check(args)).toEqual({ ok: true })
  })

  it.each([
    // The bypass forms the issue names, each refused with the flag as written and its index.
    [['--api_key=x'], 0, '--api_key', /set by the launch template/],
    [['--api-ke=x'], 0, '--api-ke', /not an allowed vLLM flag/],
    [['-tp=1'], 0, '-tp=1', /short options/],
    [['--served_model_name=x'], 0, '--served_model_name', /set by the launch template/],
    // The rest of the reserved list and other abbreviations/short forms.
    [['--host', '0.0.0.0'], 0, '--host', /set by the launch template/],
    [['--port=9000'], 0, '--port', /set by the launch template/],
    [['--model=evil/model'], 0, '--model', /set by the launch template/],
    [['--tensor-parallel-size=1'], 0, '--tensor-parallel-size', /set by the launch template/],
    [['--tensor_parallel_size', '2'], 0, '--tensor_parallel_size', /set by the launch template/],
    [['--max-model-len=4096', '--served-model'], 1, '--served-model', /not an allowed vLLM flag/],
    [['-q', 'awq'], 0, '-q', /short options/],
    [['--max-model'], 0, '--max-model', /not an allowed vLLM flag/],
    // Unknown and deliberately left-out flags.
    [['--config=/etc/passwd'], 0, '--config', /not an allowed vLLM flag/],
    [['--allowed-local-media-path=/'], 0, '--allowed-local-media-path', /not an allowed/],
    [['--no-enable-prefix-caching'], 0, '--no-enable-prefix-caching', /not an allowed/],
    // Values: a stray positional, a missing value, a value for a boolean, a wrong type.
    [['evil/model'], 0, 'evil/model', /is not a flag/],
    [['--enforce-eager', 'extra'], 1, 'extra', /is not a flag/],
    [['--max-model-len'], 0, '--max-model-len', /needs a value/],
    [['--max-model-len', '--enforce-eager'], 0, '--max-model-len', /needs a value/],
    [['--enable-prefix-caching=false'], 0, '--enable-prefix-caching', /takes no value/],
    [['--max-num-seqs=many'], 0, '--max-num-seqs', /integer/],
    [['--gpu-memory-utilization=high'], 0, '--gpu-memory-utilization', /number/],
    [['--tokenizer='], 0, '--tokenizer', /needs a value/],
  ])('refuses %j at index %i naming %s', (args, index, flag, message) => {
    const result = check(args)
    expect(result).toMatchObject({ ok: false, index, flag })
    expect(result.ok ? '' : result.message).toMatch(message)
  })

  it('refuses --trust-remote-code (any spelling) unless the launch allows remote code', () => {
    for (const arg of ['--trust-remote-code', '--trust_remote_code']) {
      expect(check([arg])).toMatchObject({ ok: false, flag: arg, message: expect.stringMatching(/allow_remote_code: true/) })
      expect(check([arg], true)).toEqual({ ok: true })
    }
    expect(check(['--trust-remote'], true)).toMatchObject({ ok: false, flag: '--trust-remote' })
  })

  it('keeps reserved flags out of the allowlist and has the flags operators need', () => {
    for (const flag of RESERVED_VLLM_FLAGS) expect(VLLM_FLAG_ALLOWLIST[flag]).toBeUndefined()
    for (const flag of [
      '--max-model-len',
      '--enable-prompt-tokens-details',
      '--gpu-memory-utilization',
      '--dtype',
      '--quantization',
      '--max-num-seqs',
      '--enable-prefix-caching',
      '--kv-cache-dtype',
      '--enable-chunked-prefill',
      '--max-num-batched-tokens',
      '--seed',
      '--revision',
      '--tokenizer',
      '--trust-remote-code',
    ])
      expect(VLLM_FLAG_ALLOWLIST[flag], flag).toBeDefined()
  })
})
