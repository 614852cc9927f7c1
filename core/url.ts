/**
 * URLs as shown to a person (logs, errors, `config show`): a password in the user-info part
 * (`https://user:secret@host`, `postgres://app:secret@db`) is replaced by `***`.
 */
export function displayUrl(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:\s]*):[^/@\s]*@/i, '$1:***@');
}
