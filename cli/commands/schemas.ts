/** `chatstream schemas check | register | types`: the curated Avro schemas under schemas/. */
import { readFileSync, writeFileSync } from 'node:fs';
import { EXIT } from '../../core/errors.ts';
import { renderTable } from '../../core/table.ts';
import { checkAll } from '../../schemas/check.ts';
import { registerAll } from '../../schemas/register.ts';
import { generateTypes, TYPES_FILE } from '../../schemas/typegen.ts';
import type { Command } from '../command.ts';

const check: Command = {
  path: ['schemas', 'check'],
  summary:
    'Check every schema version: valid Avro, documented, conventions, compatible with the versions before it.',
  async run(ctx) {
    const reports = checkAll();
    ctx.out(
      renderTable(
        ['TOPIC', 'VERSIONS', 'RESULT'],
        reports.map((r) => [
          r.topic,
          r.versions,
          r.problems.length ? `${r.problems.length} problem(s)` : 'ok',
        ]),
      ),
    );
    for (const problem of reports.flatMap((r) => r.problems)) ctx.out(`  ${problem}`);
    const stale = readFileSync(TYPES_FILE, 'utf8') !== generateTypes();
    if (stale) ctx.out('  schemas/types.generated.ts is out of date: run "chatstream schemas types"');
    return reports.some((r) => r.problems.length > 0) || stale ? EXIT.config : EXIT.ok;
  },
};

const register: Command = {
  path: ['schemas', 'register'],
  summary: 'Register every schema version (oldest first) with the schema registry; idempotent.',
  details:
    'Registry: CHATSTREAM_SCHEMA_REGISTRY_URL. Subjects: <CHATSTREAM_KAFKA_TOPIC_PREFIX><topic>-value.',
  async run(ctx) {
    const registered = await registerAll(ctx.config);
    ctx.out(
      renderTable(
        ['SUBJECT', 'VERSIONS', 'IDS'],
        registered.map((r) => [r.subject, r.versions.length, r.versions.map((v) => v.id).join(',')]),
      ),
    );
    return EXIT.ok;
  },
};

const types: Command = {
  path: ['schemas', 'types'],
  summary: 'Regenerate schemas/types.generated.ts (TypeScript record types) from the latest schemas.',
  async run(ctx) {
    writeFileSync(TYPES_FILE, generateTypes());
    ctx.out(`wrote ${TYPES_FILE}`);
    return EXIT.ok;
  },
};

export const schemasCommands: Command[] = [check, register, types];
