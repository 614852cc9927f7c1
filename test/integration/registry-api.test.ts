/**
 * Conformance of chatstream's registry with Confluent Schema Registry's REST API, part 1:
 * schemas and subjects, error codes, bad input — exact status, error code and body shape, on a
 * registry of its own (real Kafka, its own `_schemas` topic). Part 2: registry-api-admin.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { uniqueName } from '../helpers/names.ts';
import { call } from '../helpers/registry.ts';
import { assertError, REQUIRED_FIELD, registryForFile, V1, V2 } from '../helpers/registry-fixtures.ts';

const { api, subjectWith, url } = registryForFile();

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
      url(),
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
