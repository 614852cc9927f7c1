/** The PostgreSQL sink's registration. */
import type { SinkDefinition } from '../../sink.ts';
import { PostgresSink } from './sink.ts';

export const postgresSink: SinkDefinition = {
  name: 'postgres',
  description:
    'A table per topic, primary key (_topic, _partition, _offset), rows and offsets in one transaction.',
  services: ['postgres'],
  create: ({ config, log }) => new PostgresSink(config, log),
};
