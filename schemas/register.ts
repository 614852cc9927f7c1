/**
 * `chatstream schemas register`: every version of every record kind, oldest first, under
 * `<prefix><topic>-value`, with the subject's compatibility level. Idempotent: a version the
 * registry has already answers with its existing id.
 */
import type { CoreConfig } from '../core/settings.ts';
import { RECORD_KINDS, type RecordKind, schemaVersions, subjectOf } from './catalog.ts';
import {
  createRegistryClient,
  registryFailure,
  registryPort,
  setSubjectCompatibility,
  subjectCompatibility,
} from './registry-client.ts';

export interface Registered {
  subject: string;
  versions: { version: number; id: number }[];
}

/** Registers every kind's versions; a registry failure comes out as registryFailure decides. */
export async function registerAll(
  config: CoreConfig,
  kinds: RecordKind[] = RECORD_KINDS,
  root?: string,
): Promise<Registered[]> {
  try {
    return await registerKinds(config, kinds, root);
  } catch (error) {
    throw registryFailure(error, config);
  }
}

async function registerKinds(config: CoreConfig, kinds: RecordKind[], root?: string): Promise<Registered[]> {
  const port = registryPort(createRegistryClient(config));
  const out: Registered[] = [];
  for (const kind of kinds) {
    const subject = subjectOf(kind.topic, config.kafka.topicPrefix);
    if ((await subjectCompatibility(config, subject)) !== kind.compatibility) {
      await setSubjectCompatibility(config, subject, kind.compatibility);
    }
    const versions: Registered['versions'] = [];
    for (const v of schemaVersions(kind, root))
      versions.push({ version: v.version, id: await port.register(subject, v.text) });
    out.push({ subject, versions });
  }
  return out;
}
