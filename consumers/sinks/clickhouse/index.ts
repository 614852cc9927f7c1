/** The ClickHouse sink's registration: its name, description, settings and constructor. */
import type { SinkDefinition } from '../../sink.ts';
import { ClickHouseSink } from './sink.ts';

export const clickhouseSink: SinkDefinition = {
  name: 'clickhouse',
  description:
    'A table per topic (ReplacingMergeTree), columns from the Avro schema, offsets stored in ClickHouse, _dedup views.',
  create: ({ config, log }) => new ClickHouseSink(config, log),
};
