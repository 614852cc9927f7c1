/**
 * Settings of the Pure Chat transcript import (`purechatImport` section; environment
 * PURECHAT_IMPORT_*): how an export file is read — its format, the column mapping, the CSV
 * delimiter and the time zone of times written without one. The export format is UNCONFIRMED
 * (docs SOURCES.md 3.5), hence the mapping.
 */
import { type Settings, setting } from '../../../core/config.ts';
import type { PurechatConfig } from '../config.ts';

export const IMPORT_FORMATS = ['auto', 'csv', 'json'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export const DATE_ORDERS = ['mdy', 'dmy'] as const;
export type DateOrder = (typeof DATE_ORDERS)[number];

const env = (name: string) => `PURECHAT_IMPORT_${name}`;

/** `auto`, `tab` or one character. */
export function parseDelimiter(raw: unknown): string {
  const text = typeof raw === 'string' ? raw : '';
  if (text === 'auto') return 'auto';
  if (text === 'tab' || text === '\\t' || text === '\t') return '\t';
  if ([...text].length !== 1 || /[\r\n"]/.test(text))
    throw new Error(`expected auto, tab or one character such as ; got ${JSON.stringify(raw)}`);
  return text;
}

/** `UTC`, an IANA zone (Europe/Berlin) or a fixed offset (+02:00). */
export function parseTimeZone(raw: unknown): string {
  const text = typeof raw === 'string' ? raw.trim() : '';
  if (/^[+-]\d{2}:?\d{2}$/.test(text)) return text;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: text });
    return text;
  } catch {
    throw new Error(`expected UTC, an IANA time zone such as Europe/Berlin, or an offset such as +02:00`);
  }
}

/** JSON text or @file (checked when an import runs, naming the setting); a config file may hold the object itself. */
function parseMappingSetting(raw: unknown): string | undefined {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) return JSON.stringify(raw);
  if (typeof raw !== 'string')
    throw new Error(`expected JSON text, @file or an object, got ${JSON.stringify(raw)}`);
  return raw.trim() === '' ? undefined : raw;
}

export const purechatImportSettings = {
  mapping: {
    ...setting.optionalString({
      env: env('MAPPING'),
      description:
        'Which column (CSV) or key (JSON) of the export holds each transcript field, as JSON text or `@path/to/mapping.json`: `{"transcript_id": "Chat Id", "started_time": "Start", …}`. Fields: `transcript_id`, `widget_id`, `started_time`, `ended_time`, `visitor_name`, `visitor_email`, `visitor_phone`, `operator_name`, `question`; per message `time`, `author`, `author_type`, `text`; and `messages` (a JSON key holding the message list, or a CSV column holding the whole chat as text, one `[time] Author: text` line per message). Names match case-insensitively, ignoring spaces and punctuation. A field left out is guessed from common names (`Transcript Id`, `Chat Id`, `Start Time`, `Visitor Email`, `Operator`, `Message`, `Author`, `Timestamp`, …); `null` means the export has no such column. `--mapping` overrides it.',
      example: '{"transcript_id":"Chat ID","time":"Sent At","text":"Body"}',
    }),
    parse: parseMappingSetting,
  },
  format: setting.oneOf(IMPORT_FORMATS, {
    env: env('FORMAT'),
    default: 'auto',
    description:
      'Format of the export files: `csv` (one row per message with the transcript columns repeated, or one row per transcript), `json` (an array of transcripts or `{"transcripts": […]}`, each with an optional message list), or `auto` (by the file extension, else by its first character). `--format` overrides it.',
  }),
  csvDelimiter: {
    ...setting.string({
      env: env('CSV_DELIMITER'),
      default: 'auto',
      description:
        'Field delimiter of CSV exports: one character (`,` `;`), `tab`, or `auto` (whichever of comma, semicolon, tab or pipe the header line has most of).',
      example: ';',
    }),
    parse: parseDelimiter,
  },
  timeZone: {
    ...setting.string({
      env: env('TIME_ZONE'),
      default: 'UTC',
      description:
        'Time zone of export times written without one (`2024-03-05 14:03`): `UTC`, an IANA zone such as `America/New_York`, or a fixed offset such as `-05:00`. Times with a zone or an offset, and epoch numbers, are taken as they are.',
      example: 'America/New_York',
    }),
    parse: parseTimeZone,
  },
  dateOrder: setting.oneOf(DATE_ORDERS, {
    env: env('DATE_ORDER'),
    default: 'mdy',
    description:
      'How to read dates with slashes (`03/05/2024 2:03 PM`): `mdy` (US, March 5) or `dmy` (5 March). ISO dates (`2024-03-05`) are never ambiguous.',
  }),
  pageSize: setting.int({
    env: env('PAGE_SIZE'),
    default: 500,
    min: 1,
    max: 100_000,
    description:
      'Transcripts per page: each page is committed in one Kafka transaction together with how far into the file it got, so an interrupted import resumes after the last committed page.',
  }),
};

export type PurechatImportSettings = Settings<{
  purechatImport: typeof purechatImportSettings;
}>['purechatImport'];

export type PurechatImportConfig = PurechatConfig & { purechatImport: PurechatImportSettings };
