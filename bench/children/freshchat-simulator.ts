/**
 * The Freshchat simulator as a process of its own for benchmarks, so it never shares an event
 * loop with what is measured. argv[2] is a JSON SimulatorOptions subset ({seed, initial, …});
 * prints one JSON line {url, apiKey} once it listens, and stops on SIGTERM.
 */
import { once } from 'node:events';
import { configureLogging } from '../../core/log.ts';
import { FreshchatSimulator, type SimulatorOptions } from '../../producers/freshchat/simulator/index.ts';

configureLogging({ level: 'warn' });
const options = JSON.parse(process.argv[2] ?? '{}') as SimulatorOptions;
const sim = await FreshchatSimulator.start({ ...options, host: '127.0.0.1', port: 0, growth: false });
process.stdout.write(`${JSON.stringify({ url: sim.url, apiKey: sim.apiKey })}\n`);
await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
await sim.stop();
