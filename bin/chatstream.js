#!/usr/bin/env node
// The `chatstream` executable. chatstream is TypeScript run directly by Node's type stripping
// (Node >= 22.18). On an older `node` this re-runs itself with the Node 24 binary that the
// `node` devDependency installs, so `npx chatstream` works whatever node is first on PATH.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import nodeModule from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, minor] = process.versions.node.split('.').map(Number);
const stripsTypes = major > 22 || (major === 22 && minor >= 18);

if (stripsTypes) {
  // Start-up is part of every command's wait: Node's compile cache (in the system's temporary
  // folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off) keeps the type-stripped, compiled modules,
  // which halves loading them (~1 s → ~0.5 s of CPU) from the second run on.
  nodeModule.enableCompileCache?.();
  const { runCli } = await import('../cli/main.ts');
  await runCli(process.argv.slice(2));
} else {
  const local = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(local)) {
    process.stderr.write(
      `chatstream: needs Node >= 22.18 (this is ${process.version}); run "npm install" first.\n`,
    );
    process.exit(4);
  }
  const run = spawnSync(local, [join(root, 'cli', 'main.ts'), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(run.status ?? 1);
}
