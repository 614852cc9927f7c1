/**
 * The `chatstream` entry point (bin/chatstream.js and `node cli/main.ts`). A command that runs
 * with a heap cap (`sink`, `start`) re-runs the process with it before anything else loads
 * (cli/heap.ts), so its modules are loaded once, not twice; then the command line runs (app.ts).
 */
import { capHeapForCommand } from './heap.ts';

export async function runCli(argv: string[]): Promise<void> {
  capHeapForCommand(argv);
  const app = await import('./app.ts');
  await app.runCli(argv);
}

if (import.meta.main) await runCli(process.argv.slice(2));
