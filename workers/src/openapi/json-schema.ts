// zod → JSON Schema 2020-12 (the dialect of OpenAPI 3.1) for the document builder, and zod query schemas →
// OpenAPI query parameters. Request schemas are converted as inputs (what a client sends, before defaults and
// transforms), response schemas as outputs.
import { z } from 'zod'
import { requiredTimestampParam, timestampParam } from '../schemas/timestamp-param.ts'

export type JsonSchema = Record<string, unknown>

const TIMESTAMP: JsonSchema = {
  type: 'string',
  description: 'ISO 8601 (2025-01-01T00:00:00Z; no zone = UTC), Unix seconds, or milliseconds since the epoch (a bare number below 1e11 is seconds)',
  examples: ['2025-01-01T00:00:00Z', '1735689600', '1735689600000'],
}

export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    // A transform has no JSON Schema; its input type is what the client sends (the timestamp override says more).
    unrepresentable: 'any',
    override: (ctx) => {
      if (ctx.zodSchema === timestampParam || ctx.zodSchema === requiredTimestampParam) {
        for (const key of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[key]
        Object.assign(ctx.jsonSchema, TIMESTAMP)
      }
    },
  }) as JsonSchema
  delete out.$schema // the document's jsonSchemaDialect says it once
  return out
}

type QueryParameter = { name: string; in: 'query'; required: boolean; schema: JsonSchema; description?: string }

/** One query parameter per field of a (strict) object schema; unknown parameters are 400s, as the routes answer. */
export function queryParameters(schema: z.ZodObject): QueryParameter[] {
  const object = jsonSchema(schema, 'input')
  const properties = (object.properties ?? {}) as Record<string, JsonSchema>
  const required = new Set((object.required ?? []) as string[])
  return Object.entries(properties).map(([name, fieldSchema]) => {
    const { description, ...rest } = fieldSchema
    return { name, in: 'query', required: required.has(name), schema: rest, ...(typeof description === 'string' ? { description } : {}) }
  })
}
