/**
 * Sinks by name. Adding a sink: a folder under consumers/sinks/ with its definition, and one
 * line here. The runner and the CLI know sinks only through this list.
 */
import { UsageError } from '../../core/errors.ts';
import type { SinkDefinition } from '../sink.ts';
import { clickhouseSink } from './clickhouse/index.ts';
import { postgresSink } from './postgres/index.ts';

export const SINKS: SinkDefinition[] = [clickhouseSink, postgresSink];

export function sinkByName(name: string): SinkDefinition {
  const found = SINKS.find((s) => s.name === name);
  if (!found) throw new UsageError(`unknown sink "${name}"`, `sinks: ${SINKS.map((s) => s.name).join(', ')}`);
  return found;
}
