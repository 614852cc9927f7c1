/**
 * Imports point down only (ARCHITECTURE.md, "Layers"): every relative import of the layered
 * folders must land in a folder its layer may use. `cli/`, `test/` and `bench/` may import
 * anything and are not checked.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What each top-level folder may import besides itself. */
const ALLOWED: Record<string, string[]> = {
  core: [],
  kafka: ['core'],
  schemas: ['core', 'kafka'],
  consumers: ['core', 'kafka', 'schemas'],
  producers: ['core', 'kafka', 'schemas'],
  registry: ['core', 'kafka', 'schemas'],
  stack: ['core', 'kafka', 'schemas'],
  // The views and the dashboard read what the sinks write and serve with producers/http.
  analytics: ['core', 'kafka', 'schemas', 'consumers', 'producers'],
};

/**
 * Plugins never import one another: every sink folder, and the source folders of producers/
 * (its other folders, e.g. producers/runtime/, are shared by the sources).
 */
const PLUGIN_FOLDERS: { parent: string; names?: string[] }[] = [
  { parent: 'consumers/sinks' },
  { parent: 'producers', names: ['freshchat', 'purechat'] },
];

function sourceFiles(folder: string): string[] {
  const dir = join(ROOT, folder);
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((name) => name.endsWith('.ts'))
    .map((name) => posix.join(folder, name.split(sep).join('/')));
}

function relativeImports(text: string): string[] {
  const specifiers = [
    ...text.matchAll(/\bfrom\s+['"]([^'"]+)['"]/g),
    ...text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g),
    ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
  ].map((m) => m[1] as string);
  return [...new Set(specifiers.filter((s) => s.startsWith('.')))];
}

/** The plugin (e.g. `consumers/sinks/clickhouse`) a file belongs to, if any. */
function pluginOf(file: string): string | undefined {
  for (const { parent, names } of PLUGIN_FOLDERS) {
    const rest = file.startsWith(`${parent}/`) ? file.slice(parent.length + 1) : undefined;
    const name = rest?.includes('/') ? (rest.split('/')[0] as string) : undefined;
    if (name && (!names || names.includes(name))) return `${parent}/${name}`;
  }
  return undefined;
}

/** The rule an import breaks, or undefined. */
function violation(file: string, target: string): string | undefined {
  const layer = file.split('/')[0] as string;
  const to = target.split('/')[0] as string;
  const allowed = ALLOWED[layer] ?? [];
  if (to !== layer && !allowed.includes(to))
    return `${layer}/ may import only ${[layer, ...allowed].map((f) => `${f}/`).join(', ')}`;
  const from = pluginOf(file);
  const into = pluginOf(target);
  if (from && into && from !== into) return `${from}/ must not import another plugin (${into}/)`;
  return undefined;
}

test('imports point down only: each layer imports only the layers under it, plugins never each other', () => {
  const problems: string[] = [];
  for (const folder of Object.keys(ALLOWED)) {
    for (const file of sourceFiles(folder)) {
      for (const specifier of relativeImports(readFileSync(join(ROOT, file), 'utf8'))) {
        const target = relative(ROOT, join(ROOT, dirname(file), specifier))
          .split(sep)
          .join('/');
        const rule = violation(file, target);
        if (rule) problems.push(`${file} imports '${specifier}' (${target}): ${rule}`);
      }
    }
  }
  assert.deepEqual(problems, [], `layering violations:\n${problems.join('\n')}`);
});

test('the rules themselves', () => {
  assert.equal(violation('kafka/topics.ts', 'core/settings.ts'), undefined);
  assert.match(
    violation('kafka/topics.ts', 'schemas/catalog.ts') ?? '',
    /kafka\/ may import only kafka\/, core\//,
  );
  assert.match(violation('core/settings.ts', 'consumers/config.ts') ?? '', /core\/ may import only core\//);
  assert.match(violation('consumers/runner.ts', 'producers/x.ts') ?? '', /consumers\/ may import only/);
  assert.match(
    violation('producers/freshchat/a.ts', 'consumers/sink.ts') ?? '',
    /producers\/ may import only/,
  );
  assert.match(violation('stack/kafka.ts', 'cli/main.ts') ?? '', /stack\/ may import only/);
  assert.equal(violation('consumers/sinks/index.ts', 'consumers/sinks/clickhouse/index.ts'), undefined);
  assert.equal(violation('consumers/sinks/postgres/sink.ts', 'consumers/sink.ts'), undefined);
  assert.match(
    violation('consumers/sinks/postgres/sink.ts', 'consumers/sinks/clickhouse/schema.ts') ?? '',
    /consumers\/sinks\/postgres\/ must not import another plugin \(consumers\/sinks\/clickhouse\/\)/,
  );
  assert.match(
    violation('producers/freshchat/poller.ts', 'producers/purechat/collector.ts') ?? '',
    /must not import another plugin/,
  );
  assert.match(
    violation('producers/purechat/collector.ts', 'producers/freshchat/poller.ts') ?? '',
    /must not import another plugin/,
  );
  assert.equal(violation('producers/freshchat/poller.ts', 'producers/source.ts'), undefined);
  assert.equal(violation('producers/freshchat/poller.ts', 'producers/runtime/encoder.ts'), undefined);
});
