/**
 * The ClickHouse sink's tables: created from the Avro columns, altered as the schema evolves
 * (missing columns added, too-narrow ones widened), the `<table>_dedup` view kept in step with
 * the table, and a table dropped under stored offsets refused.
 *
 * Several members (partitions of one process, or processes of one group) may create and alter
 * the same table at once: every decision is made on the columns read from `system.columns`
 * after the DDL, never on what was sent.
 */
import { EXIT, FatalError, isRetriable } from '../../../core/errors.ts';
import type { Logger } from '../../../core/log.ts';
import {
  alterColumnsSql,
  type Capabilities,
  columnChange,
  createTableSql,
  createViewSql,
  DELETED_COLUMN,
  type DedupPolicy,
  metadataColumns,
  OFFSETS_TABLE,
  quoteIdent,
  quoteString,
} from './schema.ts';
import type { ClickHouseService } from './service.ts';

/** Column name → type, of a table and of its `_dedup` view (empty when absent). */
interface Described {
  table: Map<string, string>;
  view: Map<string, string>;
}

export class Tables {
  private readonly service: ClickHouseService;
  private readonly database: string;
  private readonly log: Logger;
  private readonly capabilities: () => Capabilities;
  /** `<table>#<schema id>` once the table is known to hold that schema's columns. */
  private readonly ready = new Set<string>();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Each table's columns (name → type) as last read after making sure of it. */
  private readonly described = new Map<string, Map<string, string>>();

  constructor(service: ClickHouseService, database: string, log: Logger, capabilities: () => Capabilities) {
    this.service = service;
    this.database = database;
    this.log = log;
    this.capabilities = capabilities;
  }

  /** Forgets every table: the next writes read their columns again. */
  forgetAll(): void {
    this.ready.clear();
    this.described.clear();
  }

  /**
   * The table's columns (name → type) as read from `system.columns` when the sink last made
   * sure of it (a new Map each time it is read again); undefined until then.
   */
  columns(table: string): Map<string, string> | undefined {
    return this.described.get(table);
  }

  /** Inserts running per table (each settles when its insert is done). */
  private readonly inserting = new Map<string, Set<Promise<unknown>>>();

  /**
   * Serializes work on one table (creation and ALTERs from concurrent partitions), after the
   * inserts running on it: a RowBinary body written for the old column types must not reach a
   * table altered meanwhile.
   */
  private async exclusive<T>(table: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(table) ?? Promise.resolve();
    const drained = previous.then(() => Promise.allSettled([...(this.inserting.get(table) ?? [])]));
    const run = drained.then(fn, fn);
    this.locks.set(
      table,
      run.catch(() => {}),
    );
    return run;
  }

  /**
   * Runs an insert into the table while no creation or ALTER of it runs (inserts run side by
   * side); `fn` reads the columns it writes for at its start.
   */
  async insert<T>(table: string, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      const lock = this.locks.get(table);
      await lock;
      if (this.locks.get(table) !== lock) continue;
      let running = this.inserting.get(table);
      if (!running) {
        running = new Set();
        this.inserting.set(table, running);
      }
      const run = fn();
      const settled = run.catch(() => {});
      running.add(settled);
      try {
        return await run;
      } finally {
        running.delete(settled);
      }
    }
  }

  private async describe(table: string): Promise<Described> {
    const found = await this.service.rows<{ table: string; name: string; type: string }>(
      // MATERIALIZED and ALIAS columns (added by hand) are computed by ClickHouse: never inserted.
      `SELECT table, name, type FROM system.columns WHERE database = ${quoteString(this.database)} AND table IN (${quoteString(table)}, ${quoteString(`${table}_dedup`)}) AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')`,
    );
    const described: Described = { table: new Map(), view: new Map() };
    for (const c of found) (c.table === table ? described.table : described.view).set(c.name, c.type);
    return described;
  }

  /** Forgets what is known of a table: its next write reads the columns again. */
  forget(table: string): void {
    for (const key of this.ready) if (key.startsWith(`${table}#`)) this.ready.delete(key);
    this.described.delete(table);
  }

  /**
   * Makes sure the table exists, has every column of `columns` with a type that holds its
   * values, and that its view shows the table's columns. `readyKey` remembers it was done.
   */
  async ensure(
    group: string,
    topic: string,
    table: string,
    readyKey: string,
    columns: { name: string; type: string }[],
    policy: DedupPolicy,
    schemaId?: number,
  ): Promise<void> {
    if (this.ready.has(readyKey)) return;
    await this.exclusive(table, async () => {
      if (this.ready.has(readyKey)) return;
      let found = await this.describe(table);
      if (found.table.size === 0) {
        await this.refuseIfDropped(group, topic, table);
        await this.service.command(
          createTableSql(this.database, table, columns, this.capabilities(), policy),
        );
        // Another member may have created it a moment before, from other columns: what is there
        // decides, not what was sent.
        found = await this.describe(table);
        const all = [...columns, ...metadataColumns(this.capabilities(), policy)];
        const ours = found.table.size === all.length && all.every((c) => found.table.get(c.name) === c.type);
        this.log.info(
          ours ? 'created table' : 'table created meanwhile by another member, from other columns',
          {
            table,
            columns: columns.length,
            schemaId,
          },
        );
      }
      const wanted = policy.kind === 'latest' && policy.tombstones ? [...columns, DELETED_COLUMN] : columns;
      found = await this.alter(topic, table, wanted, found, schemaId);
      await this.ensureView(table, policy, found);
      this.described.set(table, found.table);
      this.ready.add(readyKey);
    });
  }

  /**
   * A missing table for which this group has stored offsets was dropped after the sink wrote
   * to it (offsets are stored only after their rows): creating it again and reading on from
   * those offsets would leave the records before them out, silently. Stop and say so.
   */
  private async refuseIfDropped(group: string, topic: string, table: string): Promise<void> {
    const [row] = await this.service.rows<{ c: string; o: string }>(
      `SELECT count() AS c, max(offset) AS o FROM ${quoteIdent(this.database)}.${OFFSETS_TABLE} WHERE \`group\` = ${quoteString(group)} AND topic = ${quoteString(topic)}`,
    );
    if (Number(row?.c ?? 0) === 0) return;
    // Another member of the group may have created the table and written to it meanwhile.
    if ((await this.describe(table)).table.size > 0) return;
    throw new FatalError(
      `ClickHouse table ${this.database}.${table} does not exist, but consumer group ${group} stored offsets of topic ${topic} in ${this.database}.${OFFSETS_TABLE} (up to ${row?.o}): the table was dropped after records were written to it, and writing on from those offsets would leave them out`,
      {
        code: 'CLICKHOUSE_TABLE_DROPPED',
        exitCode: EXIT.config,
        hint: `to write the topic again from its start, run the sink as a new consumer group (CHATSTREAM_SINK_GROUP), or delete the group's rows: ALTER TABLE ${quoteIdent(this.database)}.${OFFSETS_TABLE} DELETE WHERE \`group\` = ${quoteString(group)} AND topic = ${quoteString(topic)}`,
      },
    );
  }

  /**
   * Adds the missing columns and widens the ones too narrow, in one ALTER; stops (FatalError,
   * exit 3) on a column no type can widen to safely. A failed ALTER (another member altering
   * the same table at the same moment) is decided again on the columns read afterwards.
   */
  private async alter(
    topic: string,
    table: string,
    wanted: { name: string; type: string }[],
    described: Described,
    schemaId?: number,
  ): Promise<Described> {
    let found = described;
    for (let attempt = 1; ; attempt++) {
      const add: { name: string; type: string }[] = [];
      const modify: { name: string; type: string; from: string }[] = [];
      for (const column of wanted) {
        const have = found.table.get(column.name);
        if (have === undefined) {
          add.push(column);
          continue;
        }
        const change = columnChange(have, column.type);
        if (change.action === 'modify') modify.push({ name: column.name, type: change.type, from: have });
        if (change.action === 'refuse') {
          const where = `${this.database}.${table}`;
          throw new FatalError(
            `ClickHouse table ${where}: column ${column.name} is ${have}, but schema id ${schemaId} of topic ${topic} writes ${column.type}: ${change.reason}`,
            {
              code: 'CLICKHOUSE_COLUMN_TYPE',
              exitCode: EXIT.config,
              hint: `change the column by hand (ALTER TABLE ${quoteIdent(this.database)}.${quoteIdent(table)} MODIFY COLUMN ${quoteIdent(column.name)} <type>) to a type that holds both, or give the field a new name in the schema; then start the sink again`,
            },
          );
        }
      }
      if (add.length === 0 && modify.length === 0) return found;
      try {
        // 18.16 has no ADD COLUMN IF NOT EXISTS: the diff against system.columns decides.
        await this.service.command(alterColumnsSql(this.database, table, add, modify));
        this.log.info('altered table', {
          table,
          schemaId,
          ...(add.length > 0 ? { added: add.map((c) => `${c.name} ${c.type}`) } : {}),
          ...(modify.length > 0 ? { widened: modify.map((c) => `${c.name} ${c.from} → ${c.type}`) } : {}),
        });
      } catch (error) {
        if (attempt >= 3 || !isRetriable(error)) throw error;
        this.log.info('ALTER failed; reading the columns again', { table, error: (error as Error).message });
      }
      found = await this.describe(table);
    }
  }

  /**
   * A view's columns are fixed when it is created: when they differ from the table's (a new
   * or widened column, or a crash between an ALTER and the view's swap), create it again.
   */
  private async ensureView(table: string, policy: DedupPolicy, found: Described): Promise<void> {
    const current =
      found.view.size === found.table.size &&
      [...found.table].every(([name, type]) => found.view.get(name) === type);
    if (current) return;
    const view = `${quoteIdent(this.database)}.${quoteIdent(`${table}_dedup`)}`;
    if (found.view.size > 0) {
      await this.service.command(`DROP TABLE IF EXISTS ${view}`);
      this.log.info('recreating the view: its columns differ from the table', { view: `${table}_dedup` });
    }
    await this.service.command(createViewSql(this.database, table, policy));
  }
}
