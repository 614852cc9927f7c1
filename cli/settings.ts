/**
 * The full settings catalogue: the shared sections (core/settings.ts) and every component's
 * own, declared beside its code. Assembled here, above the components, so that core/ imports
 * none of them. The order of the sections is the order of the README's reference
 * (`chatstream config docs`).
 */
import { dashboardSettings } from '../analytics/config.ts';
import { sinkSettings } from '../consumers/config.ts';
import { type ConfigSource, loadSettingsFrom, type Settings, unknownEnvironment } from '../core/config.ts';
import { coreSchema } from '../core/settings.ts';
import { producerSettings } from '../producers/config.ts';
import { freshchatSettings } from '../producers/freshchat/config.ts';
import { purechatSettings } from '../producers/purechat/config.ts';
import { purechatImportSettings } from '../producers/purechat/import/config.ts';

const { postgres, clickhouse, ...connections } = coreSchema;

export const schema = {
  ...connections,
  sink: sinkSettings,
  postgres,
  clickhouse,
  producer: producerSettings,
  freshchat: freshchatSettings,
  purechat: purechatSettings,
  purechatImport: purechatImportSettings,
  dashboard: dashboardSettings,
};

export type Config = Settings<typeof schema>;

/** Loads the whole configuration: defaults < config file < environment. */
export function loadConfig(source: ConfigSource = {}): Config {
  return loadSettingsFrom(schema, source);
}

export function unknownSettingsInEnvironment(env: NodeJS.ProcessEnv = process.env): string[] {
  return unknownEnvironment(schema, env);
}
