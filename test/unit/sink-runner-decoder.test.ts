/**
 * The decoder's registry answers (defect 8): only error code 40403 means "unknown schema", and
 * only after a bounded retry; any other 404 (a wrong URL, a proxy, a lagging instance) is
 * retriable. Against a small local HTTP server playing the registry.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import avro from 'avsc';
import { loadConfig } from '../../cli/settings.ts';
import { Decoder } from '../../consumers/decoder.ts';
import { EXIT, FatalError, PoisonError, RetriableError } from '../../core/errors.ts';

const SCHEMA = { type: 'record', name: 'R', fields: [{ name: 'id', type: 'string' }] };

/** Answers per schema id, consumed in order; the last one repeats. */
const script = new Map<number, { status: number; body: string; type?: string }[]>();
const requests = new Map<number, number>();
let server: Server;
let subjectsStatus = 200;
let url: string;

before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/subjects') {
      res.writeHead(subjectsStatus, { 'Content-Type': 'application/json' }).end('[]');
      return;
    }
    const id = Number(/\/schemas\/ids\/(\d+)/.exec(req.url ?? '')?.[1]);
    requests.set(id, (requests.get(id) ?? 0) + 1);
    const answers = script.get(id) ?? [];
    const answer = (answers.length > 1 ? answers.shift() : answers[0]) ?? { status: 500, body: '{}' };
    res
      .writeHead(answer.status, { 'Content-Type': answer.type ?? 'application/vnd.schemaregistry.v1+json' })
      .end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

after(() => {
  server.close();
});

const ok = () => ({ status: 200, body: JSON.stringify({ schema: JSON.stringify(SCHEMA) }) });
const unknown = (id: number) => ({
  status: 404,
  body: JSON.stringify({ error_code: 40403, message: `Schema ${id} not found` }),
});

function wire(id: number, value: Record<string, unknown> = { id: 'x' }): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  return Buffer.concat([header, avro.Type.forSchema(SCHEMA as avro.Schema).toBuffer(value)]);
}

function decoder(attempts = 3): Decoder {
  const base = loadConfig({ env: {} });
  const config = { ...base, schemaRegistry: { ...base.schemaRegistry, url } };
  return new Decoder(config, { unknownSchemaAttempts: attempts });
}

test('a 404 that is not error code 40403 (a wrong URL or path) is retriable, never poison', async () => {
  script.set(11, [
    { status: 404, body: JSON.stringify({ error_code: 404, message: 'HTTP 404 Not Found: no endpoint' }) },
  ]);
  script.set(12, [{ status: 404, body: '<html>Not Found</html>', type: 'text/html' }]);
  script.set(13, [
    { status: 404, body: JSON.stringify({ error_code: 40401, message: 'Subject not found' }) },
  ]);
  const d = decoder();
  for (const id of [11, 12, 13]) {
    for (let i = 0; i < 5; i++) {
      await assert.rejects(d.decode(wire(id)), (error: Error) => {
        assert.ok(error instanceof RetriableError, `id ${id}: ${error.constructor.name}: ${error.message}`);
        return true;
      });
    }
  }
});

test('40403 from a lagging registry instance is retried: the schema that shows up later decodes', async () => {
  script.set(21, [unknown(21), unknown(21), ok()]);
  const d = decoder(3);
  await assert.rejects(d.decode(wire(21)), RetriableError);
  await assert.rejects(d.decode(wire(21)), RetriableError);
  const decoded = await d.decode(wire(21, { id: 'later' }));
  assert.equal(decoded.value.id, 'later');
});

test('40403 that persists past the bounded retry is poison (unknown_schema), then poison at once', async () => {
  script.set(31, [unknown(31)]);
  const d = decoder(3);
  await assert.rejects(d.decode(wire(31)), RetriableError);
  await assert.rejects(d.decode(wire(31)), RetriableError);
  await assert.rejects(d.decode(wire(31)), (error: Error) => {
    assert.ok(error instanceof PoisonError);
    assert.equal(error.kind, 'unknown_schema');
    assert.match(error.message, /schema id 31 is not in the registry/);
    return true;
  });
  const before = requests.get(31);
  await assert.rejects(d.decode(wire(31)), PoisonError);
  assert.equal(requests.get(31), before, 'the verdict is remembered');
});

test('a registry error between 40403 answers does not count toward the bound', async () => {
  script.set(41, [unknown(41), { status: 503, body: '{}' }, { status: 503, body: '{}' }, unknown(41), ok()]);
  const d = decoder(3);
  for (let i = 0; i < 4; i++) await assert.rejects(d.decode(wire(41)), RetriableError);
  assert.equal((await d.decode(wire(41))).value.id, 'x');
});

test('a registry refusing the credentials (401/403) stops the sink with exit 3 naming the settings, instead of retrying', async () => {
  script.set(51, [{ status: 401, body: JSON.stringify({ error_code: 401, message: 'Unauthorized' }) }]);
  script.set(52, [{ status: 403, body: JSON.stringify({ error_code: 40301, message: 'Forbidden' }) }]);
  const d = decoder();
  for (const id of [51, 52])
    await assert.rejects(d.decode(wire(id)), (error: Error) => {
      assert.ok(error instanceof FatalError, `id ${id}: ${error.constructor.name}`);
      assert.equal(error.exitCode, EXIT.config);
      assert.match(error.hint ?? '', /CHATSTREAM_SCHEMA_REGISTRY_USERNAME/);
      return true;
    });
});

test('a schema avsc cannot read is poison (unknown_schema) for its records, not a crash', async () => {
  const bad = { type: 'record', name: 'R', fields: [{ name: 'u', type: ['null', 'string'], default: 'x' }] };
  script.set(61, [{ status: 200, body: JSON.stringify({ schema: JSON.stringify(bad) }) }]);
  await assert.rejects(decoder().decode(wire(61)), (error: Error) => {
    assert.ok(error instanceof PoisonError, error.constructor.name);
    assert.equal(error.kind, 'unknown_schema');
    assert.match(error.message, /schema id 61 cannot be read/);
    return true;
  });
});

test('the start probe (GET /subjects): 200 passes, 401 is fatal (exit 3), 503 retriable, no answer retriable', async () => {
  const d = decoder();
  subjectsStatus = 200;
  await d.probe();
  subjectsStatus = 401;
  await assert.rejects(
    d.probe(),
    (error: Error) => error instanceof FatalError && error.exitCode === EXIT.config,
  );
  subjectsStatus = 503;
  await assert.rejects(d.probe(), RetriableError);
  subjectsStatus = 200;
  const base = loadConfig({ env: {} });
  const nowhere = new Decoder({
    ...base,
    schemaRegistry: { ...base.schemaRegistry, url: 'http://127.0.0.1:1' },
  });
  await assert.rejects(nowhere.probe(), RetriableError);
});
