import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commands, main } from '../../cli/app.ts';
import { EXIT, UsageError } from '../../core/errors.ts';
import { renderTable } from '../../core/table.ts';

async function run(argv: string[]): Promise<{ code: number; text: string }> {
  const out: string[] = [];
  const code = await main(argv, (t) => out.push(t));
  return { code, text: out.join('\n') };
}

test('--help lists every command and the exit codes', async () => {
  const { code, text } = await run(['--help']);
  assert.equal(code, EXIT.ok);
  for (const c of commands) assert.ok(text.includes(c.path.join(' ')), `help lists ${c.path.join(' ')}`);
  assert.match(text, /Exit codes: 0 ok/);
});

test('every command has --help with its options', async () => {
  for (const c of commands) {
    const { code, text } = await run([...c.path, '--help']);
    assert.equal(code, EXIT.ok);
    assert.ok(text.startsWith(`Usage: chatstream ${c.path.join(' ')}`), text);
    for (const option of Object.keys(c.options ?? {})) assert.ok(text.includes(`--${option}`));
  }
  const group = await run(['stack']);
  assert.equal(group.code, EXIT.ok);
  assert.match(group.text, /stack up/);
});

test('unknown commands and flags are usage errors (exit 2) that say where help is', async () => {
  await assert.rejects(
    run(['stak', 'up']),
    (e: unknown) => e instanceof UsageError && e.exitCode === EXIT.usage,
  );
  await assert.rejects(
    run(['stack', 'status', '--jsn']),
    (e: unknown) =>
      e instanceof UsageError && /--jsn/.test(e.message) && /stack status --help/.test(e.hint ?? ''),
  );
  await assert.rejects(
    run(['stack', 'reset']),
    (e: unknown) => e instanceof UsageError && /--yes/.test(e.hint ?? ''),
  );
});

test('tables align their columns', () => {
  assert.equal(
    renderTable(
      ['A', 'BB'],
      [
        ['xyz', 1],
        ['', 22],
      ],
    ),
    'A    BB\n---  --\nxyz  1\n     22',
  );
});
