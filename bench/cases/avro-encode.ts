/**
 * Avro on the producer side: conforming Freshchat messages to the curated schema and encoding
 * them in the Confluent wire format through @kafkajs/confluent-schema-registry (registry
 * lookups are cached after the first), against avsc encoding alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import { PROJECT_ROOT } from '../../core/settings.ts';
import { kindOf, latestSchema } from '../../schemas/catalog.ts';
import { conform } from '../../schemas/conform.ts';
import { createRegistryClient, registryPort } from '../../schemas/registry-client.ts';
import { type BenchCase, timed } from '../types.ts';

const RECORDS = 100_000;

export const avroEncode: BenchCase = {
  name: 'avro-encode',
  async run(config) {
    const text = latestSchema(kindOf('freshchat.messages')).text;
    const schema = JSON.parse(text);
    const sample = JSON.parse(
      readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'freshchat', 'message.json'), 'utf8'),
    );
    const sources = Array.from({ length: RECORDS }, (_, i) => ({ ...sample, id: `m-${i}` }));
    const client = createRegistryClient(config);
    const id = await registryPort(client).register(`bench_${Date.now().toString(36)}-value`, text);

    const conformed = await timed(async () => sources.map((s) => conform(schema, s).value));
    const values = conformed.result;
    const wire = await timed(async () => {
      let bytes = 0;
      for (const value of values) bytes += (await client.encode(id, value)).length;
      return bytes;
    });
    const type = avro.Type.forSchema(schema);
    const raw = await timed(async () => {
      for (const value of values) type.toBuffer(value);
    });
    const avgBytes = Math.round(wire.result / RECORDS);
    return [
      {
        benchmark: 'conform Freshchat messages to the schema',
        records: RECORDS,
        seconds: conformed.seconds,
        note: 'schemas/conform.ts',
      },
      {
        benchmark: 'encode, Confluent wire format',
        records: RECORDS,
        seconds: wire.seconds,
        note: `schema-registry client, ${avgBytes} B/record`,
      },
      {
        benchmark: 'encode, avsc alone',
        records: RECORDS,
        seconds: raw.seconds,
        note: 'the encoding ceiling',
      },
    ];
  },
};
