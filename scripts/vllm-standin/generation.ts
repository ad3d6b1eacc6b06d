// Produces one chat/text completion over time (TTFT, tokens per second) and applies the failure
// knobs. The token loop is shared; a "sink" decides whether tokens become SSE frames or one JSON body.
// Called by router.ts after the request has been parsed and admitted.

import type { ServerResponse } from 'node:http'
import type { GenerationRequest } from './generation-request.ts'
import { pause, resetConnection, sendJson, writeLazily } from './http-io.ts'
import type { InFlight } from './in-flight.ts'
import type { Knobs } from './knobs.ts'
import type { Stats } from './stats.ts'
import { answerFor } from './tokens.ts'
import { errorBody, errorFrame, internalError } from './vllm-errors.ts'
import { chatFormat, DONE_FRAME, textFormat, usageOf } from './wire-format.ts'
import type { FinishReason, ResponseFormat, Usage } from './wire-format.ts'

export type GenerationJob = InFlight & {
  request: GenerationRequest
  knobs: Knobs
  res: ServerResponse
  stats: Stats
}

/** What vLLM says when its engine dies; used for `http500` and `midstream-error`. */
const ENGINE_DEAD = 'EngineCore encountered an issue. See stack trace (above) for the root cause.'

/** The completion tokens the node reports: the real count unless the `reportedCompletionTokens` knob lies. */
const reported = (knobs: Knobs, generated: number) => knobs.reportedCompletionTokens ?? generated

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' }

type Sink = {
  token(index: number, text: string): void
  /** Sends what is buffered; called before every wait so the client sees tokens as they are "generated". */
  flush(): void
  finish(reason: FinishReason, generated: number): void
  /** The engine "dies" after some tokens (the `midstream-error` knob). */
  failMidway(): void
}

function streamSink(job: GenerationJob, format: ResponseFormat): Sink {
  const { res, request } = job
  const usageAt = (n: number): Usage | undefined =>
    request.continuousUsage && !job.knobs.omitUsage ? usageOf(request.promptTokens, reported(job.knobs, n), job.knobs.reportedCachedTokens) : undefined
  let pending = ''
  let isOpened = false
  let isFlushed = false
  const open = () => {
    if (!isOpened) pending += format.opening(usageAt(0))
    isOpened = true
  }
  res.writeHead(200, SSE_HEADERS)
  return {
    token(index, text) {
      open()
      pending += format.token(text, usageAt(index + 1))
    },
    flush() {
      if (pending !== '') res.write(pending)
      else if (!isFlushed) res.flushHeaders() // a waiting client should still get the 200 and headers now
      pending = ''
      isFlushed = true
    },
    finish(reason, generated) {
      open()
      pending += format.finish(reason, usageAt(generated))
      if (request.includeUsage && !job.knobs.omitUsage)
        pending += format.usageOnly(usageOf(request.promptTokens, reported(job.knobs, generated), job.knobs.reportedCachedTokens))
      res.end(pending + DONE_FRAME)
    },
    failMidway() {
      // vLLM's generator catches the engine error, reports it as a frame, and still ends with [DONE].
      res.end(pending + errorFrame(job.knobs.errorFormat, internalError(ENGINE_DEAD)) + DONE_FRAME)
    },
  }
}

function wholeSink(job: GenerationJob, format: ResponseFormat): Sink {
  let text = ''
  return {
    token(_index, token) {
      text += token
    },
    flush() {},
    finish(reason, generated) {
      sendJson(
        job.res,
        200,
        format.whole(
          text,
          reason,
          job.knobs.omitUsage ? undefined : usageOf(job.request.promptTokens, reported(job.knobs, generated), job.knobs.reportedCachedTokens),
        ),
      )
    },
    failMidway() {
      sendJson(job.res, 500, errorBody(job.knobs.errorFormat, internalError(ENGINE_DEAD)))
    },
  }
}

function resetAfterFlush(job: GenerationJob, sink: Sink): void {
  sink.flush()
  resetConnection(job.res, job)
}

export async function runGeneration(job: GenerationJob): Promise<void> {
  const { request, knobs, res, stats, signal } = job
  if (knobs.fail === 'http500') return sendJson(res, 500, errorBody(knobs.errorFormat, internalError(ENGINE_DEAD)))
  if (knobs.fail === 'hang') return // accepted, never answered; in-flight.ts books the eventual client abort
  if (knobs.fail === 'redirect') {
    res.writeHead(307, { location: '/v1/elsewhere', 'content-length': 0 })
    return void res.end()
  }
  if (knobs.fail === 'huge-error') {
    res.writeHead(500, { 'content-type': 'application/json' })
    return writeLazily(res, '{"error":{"message":"', knobs.hugeBytes, 'x', '","type":"InternalServerError","param":null,"code":500}}')
  }
  if (knobs.fail === 'huge-body' && !request.isStream) {
    res.writeHead(200, { 'content-type': 'application/json' })
    return writeLazily(res, '{"id":"cmpl-huge","object":"chat.completion","pad":"', knobs.hugeBytes, 'x', '"}')
  }

  stats.promptTokens += request.promptTokens
  const answer = answerFor(request.sourceText, knobs.answerTokens, request.maxTokens)
  const format = request.kind === 'chat' ? chatFormat(request.model) : textFormat(request.model)
  const sink = request.isStream ? streamSink(job, format) : wholeSink(job, format)
  const isFailing = knobs.fail === 'reset' || knobs.fail === 'midstream-error' || knobs.fail === 'stall' || knobs.fail === 'huge-line'
  const failAt = isFailing ? Math.min(knobs.failAfterTokens, answer.tokens.length) : -1
  const gapMs = knobs.tokensPerSecond > 0 ? 1000 / knobs.tokensPerSecond : 0

  for (let i = 0; ; i++) {
    if (i === failAt) {
      if (knobs.fail === 'reset') return resetAfterFlush(job, sink)
      // The node stops mid-stream without closing: what is sent stays sent, the connection stays open, and
      // nothing more comes (a client abort is booked by in-flight.ts, as for `hang`).
      if (knobs.fail === 'stall') return sink.flush()
      if (knobs.fail === 'huge-line') {
        sink.flush()
        return writeLazily(res, 'data: ', knobs.hugeBytes, 'x', null)
      }
      stats.finished.error++
      return sink.failMidway()
    }
    if (i === answer.tokens.length) break
    const waitMs = i === 0 ? knobs.ttftMs : gapMs
    if (waitMs > 0) {
      sink.flush()
      if (!(await pause(waitMs, signal))) return // client gone: stop generating, like vLLM's abort
    }
    stats.generationTokens++
    sink.token(i, answer.tokens[i] ?? '')
  }
  stats.finished[answer.finishReason]++
  sink.finish(answer.finishReason, answer.tokens.length)
}
