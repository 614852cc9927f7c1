/**
 * Conformance of chatstream's registry with Confluent Schema Registry's REST API, part 2:
 * compatibility checks, config and mode, soft and permanent deletes, basic auth.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { uniqueName } from '../helpers/names.ts';
import { call, startTestRegistry } from '../helpers/registry.ts';
import {
  assertError,
  REQUIRED_FIELD,
  registryForFile,
  schemaOf,
  V1,
  V2,
} from '../helpers/registry-fixtures.ts';

const { api, subjectWith } = registryForFile();

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
