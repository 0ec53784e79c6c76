/**
 * The replay set of the API fuzzer (issue 19): every case in test/fuzz-replay/cases.json, sent to the real API in
 * its phase, gets what the fuzzer demands of any answer: no server error, a status the OpenAPI document names for
 * the operation (or 405 with Allow for a method the path does not take), JSON, and a body the documented response
 * schema allows. A case may also pin its status.
 */
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { OpenAPIObject } from '@nestjs/swagger';
import { openApiDocument } from '../src/http/http-setup';
import type { Phase } from '../src/model/phases';
import { OPERATOR_TOKEN } from './support/env';
import { startTestApp, TestApp } from './support/app';

interface Case {
  found: string;
  phase: Phase;
  method: string;
  path: string;
  body?: unknown;
  status?: number;
}

const { cases } = JSON.parse(readFileSync(path.join(__dirname, 'fuzz-replay', 'cases.json'), 'utf8')) as { cases: Case[] };

/** The documented operation of a concrete path: its template with `{param}` segments. */
function operationOf(doc: OpenAPIObject, method: string, concrete: string): { template: string; op: Record<string, any> } | null {
  const bare = concrete.split('?')[0];
  for (const [template, item] of Object.entries(doc.paths)) {
    const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const op = (item as Record<string, any>)[method.toLowerCase()];
    if (re.test(bare) && op) return { template, op };
  }
  return null;
}

let t: TestApp;
let doc: OpenAPIObject;
let ajv: Ajv;

beforeAll(async () => {
  t = await startTestApp({ RATE_LIMIT_OPERATOR_RPS: '0', TRAFFIC_WAIT_MS: '2000' });
  doc = openApiDocument(t.app);
  ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) ajv.addSchema(schema, `#/components/schemas/${name}`);
});
afterAll(async () => t?.close());

describe('the fuzzer replay set', () => {
  for (const c of cases) {
    it(`${c.method} ${c.path} in ${c.phase}: ${c.found}`, async () => {
      await t.setPhase(c.phase);
      let target = c.path;
      if (target.includes('{created}')) {
        const created = await t.request('POST', '/conversations', { body: { userId: 'replay' } });
        expect(created.status).toBe(201);
        target = target.replace('{created}', created.body.id);
      }
      const res = await t.request(c.method, target, { body: c.body, token: OPERATOR_TOKEN });
      expect(res.status).toBeLessThan(500);
      if (c.status !== undefined) expect({ status: res.status, body: res.body }).toEqual({ status: c.status, body: res.body });
      if (res.status === 405) {
        expect(res.headers.get('allow')).toMatch(/GET/);
        expect(res.body.code).toBe('METHOD_NOT_ALLOWED');
        return;
      }
      const found = operationOf(doc, c.method, target);
      expect(found).not.toBeNull();
      const documented = found!.op.responses[String(res.status)];
      expect({ status: res.status, documented: Object.keys(found!.op.responses) }).toEqual({
        status: res.status,
        documented: expect.arrayContaining([String(res.status)]),
      });
      const schema = documented?.content?.['application/json']?.schema;
      if (schema && res.status !== 204) {
        expect(res.headers.get('content-type') ?? '').toMatch(/^application\/json/);
        const valid = ajv.validate(schema, res.body);
        expect({ errors: valid ? null : ajv.errorsText(ajv.errors), body: res.body }).toEqual({ errors: null, body: res.body });
      }
    });
  }
});
