/** Fixtures for the registry conformance tests: schemas, an error assertion, a registry per file. */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { uniqueName } from './names.ts';
import { call, startTestRegistry } from './registry.ts';

export const schemaOf = (fields: unknown[], name = 'chat.Message') =>
  JSON.stringify({ type: 'record', name, fields });
export const V1 = schemaOf([{ name: 'id', type: 'string' }]);
export const V2 = schemaOf([
  { name: 'id', type: 'string' },
  { name: 'text', type: ['null', 'string'], default: null },
]);
export const REQUIRED_FIELD = schemaOf([
  { name: 'id', type: 'string' },
  { name: 'n', type: 'int' },
]);

export function assertError(
  reply: { status: number; body: unknown },
  status: number,
  code: number,
  message?: RegExp,
): void {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  const body = reply.body as { error_code: number; message: string };
  assert.deepEqual(Object.keys(body).sort(), ['error_code', 'message']);
  assert.equal(body.error_code, code);
  if (message) assert.match(body.message, message);
}

/** Starts a registry of its own for the calling test file; returns a client bound to it. */
export function registryForFile() {
  let registry: Awaited<ReturnType<typeof startTestRegistry>>;
  before(async () => {
    registry = await startTestRegistry();
  });
  after(async () => {
    await registry.close();
  });
  const api = (method: string, path: string, body?: unknown) => call(registry.url, method, path, body);
  const subjectWith = async (...schemas: string[]): Promise<string> => {
    const subject = uniqueName('conf');
    for (const schema of schemas)
      assert.equal((await api('POST', `/subjects/${subject}/versions`, { schema })).status, 200);
    return subject;
  };
  return { api, subjectWith, url: () => registry.url };
}
