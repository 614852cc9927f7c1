/**
 * Conformance of chatstream's registry with Confluent Schema Registry's REST API: every
 * endpoint and every error code, with the exact status, error code and body shape. Runs on a
 * registry instance of its own (real Kafka, its own `_schemas` topic).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { uniqueName } from '../helpers/names.ts';
import { call, startTestRegistry } from '../helpers/registry.ts';

let registry: Awaited<ReturnType<typeof startTestRegistry>>;
const api = (method: string, path: string, body?: unknown) => call(registry.url, method, path, body);

const schemaOf = (fields: unknown[], name = 'chat.Message') =>
  JSON.stringify({ type: 'record', name, fields });
const V1 = schemaOf([{ name: 'id', type: 'string' }]);
const V2 = schemaOf([
  { name: 'id', type: 'string' },
  { name: 'text', type: ['null', 'string'], default: null },
]);
const REQUIRED_FIELD = schemaOf([
  { name: 'id', type: 'string' },
  { name: 'n', type: 'int' },
]);

function assertError(
  reply: { status: number; body: unknown },
  status: number,
  code: number,
  message?: RegExp,
) {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  const body = reply.body as { error_code: number; message: string };
  assert.deepEqual(Object.keys(body).sort(), ['error_code', 'message']);
  assert.equal(body.error_code, code);
  if (message) assert.match(body.message, message);
}

async function subjectWith(...schemas: string[]): Promise<string> {
  const subject = uniqueName('conf');
  for (const schema of schemas)
    assert.equal((await api('POST', `/subjects/${subject}/versions`, { schema })).status, 200);
  return subject;
}

before(async () => {
  registry = await startTestRegistry();
});
after(async () => {
  await registry.close();
});

describe('schemas and subjects', () => {
  test('POST /subjects/{s}/versions returns {id}; the same schema again returns the same id and no new version', async () => {
    const subject = uniqueName('conf');
    const first = await api('POST', `/subjects/${subject}/versions`, { schema: V1 });
    assert.equal(first.status, 200);
    assert.equal(first.contentType, 'application/vnd.schemaregistry.v1+json');
    assert.deepEqual(Object.keys(first.body as object), ['id']);
    const spaced = JSON.stringify(JSON.parse(V1), null, 2);
    const again = await api('POST', `/subjects/${subject}/versions`, {
      schema: spaced,
      schemaType: 'AVRO',
      references: [],
    });
    assert.deepEqual(again.body, first.body);
    assert.deepEqual((await api('GET', `/subjects/${subject}/versions`)).body, [1]);
  });

  test('an identical schema under another subject gets the same global id; ids increase', async () => {
    const a = await subjectWith(V1);
    const b = uniqueName('conf');
    const idA = ((await api('GET', `/subjects/${a}/versions/1`)).body as { id: number }).id;
    const idB = ((await api('POST', `/subjects/${b}/versions`, { schema: V1 })).body as { id: number }).id;
    assert.equal(idB, idA);
    const fresh = ((await api('POST', `/subjects/${b}/versions`, { schema: V2 })).body as { id: number }).id;
    assert.ok(fresh > idA);
  });

  test('plain application/json requests are accepted too', async () => {
    const reply = await call(
      registry.url,
      'POST',
      `/subjects/${uniqueName('conf')}/versions`,
      { schema: V1 },
      { 'Content-Type': 'application/json' },
    );
    assert.equal(reply.status, 200);
  });

  test('GET /subjects lists subjects; GET /subjects/{s}/versions lists versions', async () => {
    const subject = await subjectWith(V1, V2);
    assert.ok(((await api('GET', '/subjects')).body as string[]).includes(subject));
    assert.deepEqual((await api('GET', `/subjects?subjectPrefix=${subject}`)).body, [subject]);
    assert.deepEqual((await api('GET', `/subjects/${subject}/versions`)).body, [1, 2]);
  });

  test('GET /subjects/{s}/versions/{v|latest} and /schema', async () => {
    const subject = await subjectWith(V1, V2);
    const v1 = (await api('GET', `/subjects/${subject}/versions/1`)).body as Record<string, unknown>;
    assert.deepEqual(Object.keys(v1), ['subject', 'version', 'id', 'schema']);
    assert.equal(v1.subject, subject);
    assert.equal(v1.version, 1);
    assert.deepEqual(JSON.parse(v1.schema as string), JSON.parse(V1));
    const latest = (await api('GET', `/subjects/${subject}/versions/latest`)).body as { version: number };
    assert.equal(latest.version, 2);
    assert.equal(
      ((await api('GET', `/subjects/${subject}/versions/-1`)).body as { version: number }).version,
      2,
    );
    const raw = await api('GET', `/subjects/${subject}/versions/2/schema`);
    assert.deepEqual(raw.body, JSON.parse(V2));
  });

  test('GET /schemas/ids/{id}, /schemas/ids/{id}/versions and /schemas/types', async () => {
    const subject = await subjectWith(V1);
    const { id } = (await api('GET', `/subjects/${subject}/versions/1`)).body as { id: number };
    const byId = (await api('GET', `/schemas/ids/${id}`)).body as Record<string, unknown>;
    assert.deepEqual(Object.keys(byId), ['schema']);
    assert.deepEqual(JSON.parse(byId.schema as string), JSON.parse(V1));
    const versions = (await api('GET', `/schemas/ids/${id}/versions`)).body as {
      subject: string;
      version: number;
    }[];
    assert.ok(versions.some((v) => v.subject === subject && v.version === 1));
    assert.deepEqual((await api('GET', '/schemas/types')).body, ['AVRO']);
  });

  test('POST /subjects/{s} looks a schema up: 200 with its version, 40401 and 40403 otherwise', async () => {
    const subject = await subjectWith(V1, V2);
    const found = (await api('POST', `/subjects/${subject}`, { schema: V1 })).body as Record<string, unknown>;
    assert.deepEqual({ subject: found.subject, version: found.version }, { subject, version: 1 });
    assertError(
      await api('POST', `/subjects/${uniqueName('none')}`, { schema: V1 }),
      404,
      40401,
      /Subject '.*' not found\./,
    );
    assertError(
      await api('POST', `/subjects/${subject}`, { schema: REQUIRED_FIELD }),
      404,
      40403,
      /^Schema not found$/,
    );
  });
});

describe('errors', () => {
  test('40401 subject not found, 40402 version not found, 40403 schema id not found', async () => {
    assertError(await api('GET', `/subjects/${uniqueName('none')}/versions`), 404, 40401);
    assertError(await api('GET', `/subjects/${uniqueName('none')}/versions/1`), 404, 40401);
    const subject = await subjectWith(V1);
    assertError(await api('GET', `/subjects/${subject}/versions/7`), 404, 40402, /^Version 7 not found\.$/);
    assertError(await api('GET', '/schemas/ids/987654'), 404, 40403, /^Schema 987654 not found$/);
  });

  test('42201 invalid schema (bad Avro, empty, JSON/PROTOBUF types), 42202 invalid version', async () => {
    const subject = uniqueName('conf');
    assertError(
      await api('POST', `/subjects/${subject}/versions`, {
        schema: '{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}',
      }),
      422,
      42201,
      /Invalid schema/,
    );
    assertError(
      await api('POST', `/subjects/${subject}/versions`, { schema: '' }),
      422,
      42201,
      /Empty schema/,
    );
    assertError(await api('POST', `/subjects/${subject}/versions`, {}), 422, 42201);
    assertError(
      await api('POST', `/subjects/${subject}/versions`, { schema: '{}', schemaType: 'JSON' }),
      422,
      42201,
      /JSON is not supported/,
    );
    assertError(
      await api('POST', `/subjects/${subject}/versions`, {
        schema: 'syntax = "proto3";',
        schemaType: 'PROTOBUF',
      }),
      422,
      42201,
      /PROTOBUF/,
    );
    const existing = await subjectWith(V1);
    for (const bad of ['abc', '0', '-2', '2147483648']) {
      assertError(
        await api('GET', `/subjects/${existing}/versions/${bad}`),
        422,
        42202,
        new RegExp(`'${bad}' is not a valid version id`),
      );
    }
  });

  test('409 incompatible: the message names the field and the rule', async () => {
    const subject = await subjectWith(V1);
    const reply = await api('POST', `/subjects/${subject}/versions`, { schema: REQUIRED_FIELD });
    assertError(
      reply,
      409,
      409,
      /incompatible with an earlier schema.*READER_FIELD_MISSING_DEFAULT_VALUE.*field 'n'/,
    );
  });

  test('a body that is not JSON is a 400; an unknown path a 404; a wrong method a 405', async () => {
    assertError(
      await api('POST', `/subjects/${uniqueName('conf')}/versions`, '{not json'),
      400,
      400,
      /not JSON/,
    );
    assertError(await api('GET', '/nothing/here'), 404, 404);
    assertError(await api('PATCH', '/subjects'), 405, 405);
  });
});

describe('bad input', () => {
  test('malformed requests get a specific 4xx and the registry keeps serving', async () => {
    assertError(await api('GET', '/subjects/%E0%A4%A/versions'), 400, 400, /percent-encoding/);
    const subject = uniqueName('bad');
    assertError(
      await api('POST', `/subjects/${subject}/versions`, { schema: 42 }),
      422,
      42201,
      /Empty schema/,
    );
    assertError(await api('POST', `/subjects/${subject}/versions`, []), 422, 42201);
    assertError(
      await api('POST', `/subjects/${subject}/versions`, { schema: 'null' }),
      422,
      42201,
      /Invalid schema/,
    );
    const deep = `${'{"type":"array","items":'.repeat(20000)}"int"${'}'.repeat(20000)}`;
    assertError(await api('POST', `/subjects/${subject}/versions`, { schema: deep }), 422, 42201);
    assertError(
      await api('POST', `/subjects/${subject}/versions`, { schema: 'x'.repeat(17 * 1024 * 1024) }),
      413,
      413,
    );
    assertError(await api('PUT', '/config', { compatibility: 42 }), 422, 42203);
    assertError(await api('PUT', '/mode', 'null'), 422, 42204);
    assert.equal((await api('GET', '/subjects')).status, 200);
  });
});

describe('compatibility checks', () => {
  test('POST /compatibility/subjects/{s}/versions/{v|latest} answers is_compatible (verbose adds messages)', async () => {
    const subject = await subjectWith(V1);
    assert.deepEqual(
      (await api('POST', `/compatibility/subjects/${subject}/versions/latest`, { schema: V2 })).body,
      { is_compatible: true },
    );
    const bad = (
      await api('POST', `/compatibility/subjects/${subject}/versions/1?verbose=true`, {
        schema: REQUIRED_FIELD,
      })
    ).body as {
      is_compatible: boolean;
      messages: string[];
    };
    assert.equal(bad.is_compatible, false);
    assert.match(bad.messages[0] ?? '', /field 'n'/);
    assertError(
      await api('POST', `/compatibility/subjects/${subject}/versions/9`, { schema: V2 }),
      404,
      40402,
    );
    assertError(
      await api('POST', `/compatibility/subjects/${subject}/versions/x`, { schema: V2 }),
      422,
      42202,
    );
  });

  test('v1 → v2 with an optional field passes BACKWARD; FORWARD refuses removing a field without default', async () => {
    const subject = await subjectWith(V1, V2);
    assert.equal((await api('PUT', `/config/${subject}`, { compatibility: 'FORWARD' })).status, 200);
    const withRequired = uniqueName('conf');
    await api('PUT', `/config/${withRequired}`, { compatibility: 'FORWARD' });
    assert.equal(
      (await api('POST', `/subjects/${withRequired}/versions`, { schema: REQUIRED_FIELD })).status,
      200,
    );
    const reply = await api('POST', `/subjects/${withRequired}/versions`, { schema: V1 });
    assertError(reply, 409, 409, /field 'n'.*no default value.*FORWARD/);
  });

  test('changing a field type incompatibly is refused with 409 naming the field path', async () => {
    const subject = await subjectWith(schemaOf([{ name: 'count', type: 'long' }]));
    const reply = await api('POST', `/subjects/${subject}/versions`, {
      schema: schemaOf([{ name: 'count', type: 'string' }]),
    });
    assertError(
      reply,
      409,
      409,
      /TYPE_MISMATCH.*reader type string does not match writer type long.*\/fields\/0\/type/,
    );
  });
});

describe('config and mode', () => {
  test('GET|PUT /config; GET|PUT|DELETE /config/{s}; 40408 when a subject has none; 42203 invalid level', async () => {
    assert.deepEqual((await api('GET', '/config')).body, { compatibilityLevel: 'BACKWARD' });
    const subject = await subjectWith(V1);
    assertError(
      await api('GET', `/config/${subject}`),
      404,
      40408,
      /does not have subject-level compatibility configured/,
    );
    assert.deepEqual((await api('GET', `/config/${subject}?defaultToGlobal=true`)).body, {
      compatibilityLevel: 'BACKWARD',
    });
    assert.deepEqual((await api('PUT', `/config/${subject}`, { compatibility: 'full_transitive' })).body, {
      compatibility: 'FULL_TRANSITIVE',
    });
    assert.deepEqual((await api('GET', `/config/${subject}`)).body, {
      compatibilityLevel: 'FULL_TRANSITIVE',
    });
    assert.deepEqual((await api('DELETE', `/config/${subject}`)).body, {
      compatibilityLevel: 'FULL_TRANSITIVE',
    });
    assertError(await api('GET', `/config/${subject}`), 404, 40408);
    assertError(
      await api('PUT', `/config/${subject}`, { compatibility: 'SIDEWAYS' }),
      422,
      42203,
      /Invalid compatibility level/,
    );
    assertError(await api('DELETE', `/config/${uniqueName('none')}`), 404, 40401);
  });

  test('GET|PUT /mode and /mode/{s}; READONLY refuses writes with 42205; 42204 invalid mode; 40409 unset', async () => {
    assert.deepEqual((await api('GET', '/mode')).body, { mode: 'READWRITE' });
    const subject = await subjectWith(V1);
    assertError(await api('GET', `/mode/${subject}`), 404, 40409);
    assert.deepEqual((await api('PUT', `/mode/${subject}`, { mode: 'READONLY' })).body, { mode: 'READONLY' });
    assertError(
      await api('POST', `/subjects/${subject}/versions`, { schema: V2 }),
      422,
      42205,
      /read-only mode/,
    );
    assertError(await api('PUT', `/mode/${subject}`, { mode: 'SIDEWAYS' }), 422, 42204, /Invalid mode/);
    assert.deepEqual((await api('DELETE', `/mode/${subject}`)).body, { mode: 'READONLY' });
    assert.equal((await api('POST', `/subjects/${subject}/versions`, { schema: V2 })).status, 200);
    assertError(await api('PUT', '/mode', { mode: 'IMPORT' }), 422, 42205, /Cannot import/);
  });
});

describe('deletes', () => {
  test('DELETE /subjects/{s}: soft (returns versions), 40404 twice, then permanent; 40405 permanent first', async () => {
    const subject = await subjectWith(V1, V2);
    assertError(
      await api('DELETE', `/subjects/${subject}?permanent=true`),
      404,
      40405,
      /was not deleted first/,
    );
    assert.deepEqual((await api('DELETE', `/subjects/${subject}`)).body, [1, 2]);
    assertError(await api('GET', `/subjects/${subject}/versions`), 404, 40401);
    assert.ok(!((await api('GET', '/subjects')).body as string[]).includes(subject));
    assert.ok(((await api('GET', '/subjects?deleted=true')).body as string[]).includes(subject));
    assert.deepEqual((await api('GET', `/subjects/${subject}/versions?deleted=true`)).body, [1, 2]);
    assertError(await api('DELETE', `/subjects/${subject}`), 404, 40404, /was soft deleted/);
    assert.deepEqual((await api('DELETE', `/subjects/${subject}?permanent=true`)).body, [1, 2]);
    assertError(await api('GET', `/subjects/${subject}/versions?deleted=true`), 404, 40401);
    assert.ok(!((await api('GET', '/subjects?deleted=true')).body as string[]).includes(subject));
  });

  test('a soft-deleted schema id is still served (old records stay readable); a permanent delete removes it', async () => {
    const subject = await subjectWith(schemaOf([{ name: 'unique', type: 'string' }], uniqueName('Only')));
    const { id } = (await api('GET', `/subjects/${subject}/versions/1`)).body as { id: number };
    await api('DELETE', `/subjects/${subject}`);
    assert.equal((await api('GET', `/schemas/ids/${id}`)).status, 200);
    await api('DELETE', `/subjects/${subject}?permanent=true`);
    assertError(await api('GET', `/schemas/ids/${id}`), 404, 40403);
  });

  test('DELETE /subjects/{s}/versions/{v}: soft returns the version, 40406 twice, 40407 permanent first', async () => {
    const subject = await subjectWith(V1, V2);
    assertError(
      await api('DELETE', `/subjects/${subject}/versions/1?permanent=true`),
      404,
      40407,
      /was not deleted first/,
    );
    assert.equal((await api('DELETE', `/subjects/${subject}/versions/1`)).body, 1);
    assertError(
      await api('DELETE', `/subjects/${subject}/versions/1`),
      404,
      40406,
      /Version 1 was soft deleted/,
    );
    assertError(await api('GET', `/subjects/${subject}/versions/1`), 404, 40402);
    assert.equal(
      ((await api('GET', `/subjects/${subject}/versions/1?deleted=true`)).body as { version: number })
        .version,
      1,
    );
    assert.deepEqual((await api('GET', `/subjects/${subject}/versions`)).body, [2]);
    assert.equal((await api('DELETE', `/subjects/${subject}/versions/1?permanent=true`)).body, 1);
    assertError(await api('GET', `/subjects/${subject}/versions/1?deleted=true`), 404, 40402);
    assert.equal((await api('DELETE', `/subjects/${subject}/versions/latest`)).body, 2);
  });
});

describe('basic auth', () => {
  test('with a user configured, requests without credentials get 401 and with them 200', async () => {
    const secured = await startTestRegistry({ user: 'ops', password: 'pa55' });
    try {
      assertError(await call(secured.url, 'GET', '/subjects'), 401, 401);
      assertError(
        await call(secured.url, 'GET', '/subjects', undefined, {
          Authorization: `Basic ${Buffer.from('ops:wrong').toString('base64')}`,
        }),
        401,
        401,
      );
      const ok = await call(secured.url, 'GET', '/subjects', undefined, {
        Authorization: `Basic ${Buffer.from('ops:pa55').toString('base64')}`,
      });
      assert.equal(ok.status, 200);
    } finally {
      await secured.close();
    }
  });
});
