/**
 * Errors as Confluent's Schema Registry sends them: an HTTP status and a body
 * `{"error_code": N, "message": "..."}` with Confluent's codes and wording.
 */
export class RegistryError extends Error {
  readonly status: number;
  readonly errorCode: number;
  constructor(status: number, errorCode: number, message: string) {
    super(message);
    this.status = status;
    this.errorCode = errorCode;
  }
}

export const registryErrors = {
  subjectNotFound: (s: string) => new RegistryError(404, 40401, `Subject '${s}' not found.`),
  versionNotFound: (v: number | string) => new RegistryError(404, 40402, `Version ${v} not found.`),
  schemaNotFound: (id?: number) =>
    new RegistryError(404, 40403, id === undefined ? 'Schema not found' : `Schema ${id} not found`),
  subjectSoftDeleted: (s: string) =>
    new RegistryError(404, 40404, `Subject '${s}' was soft deleted.Set permanent=true to delete permanently`),
  subjectNotSoftDeleted: (s: string) =>
    new RegistryError(404, 40405, `Subject '${s}' was not deleted first before being permanently deleted`),
  versionSoftDeleted: (s: string, v: number) =>
    new RegistryError(
      404,
      40406,
      `Subject '${s}' Version ${v} was soft deleted.Set permanent=true to delete permanently`,
    ),
  versionNotSoftDeleted: (s: string, v: number) =>
    new RegistryError(
      404,
      40407,
      `Subject '${s}' Version ${v} was not deleted first before being permanently deleted`,
    ),
  subjectCompatibilityNotConfigured: (s: string) =>
    new RegistryError(404, 40408, `Subject '${s}' does not have subject-level compatibility configured`),
  subjectModeNotConfigured: (s: string) =>
    new RegistryError(404, 40409, `Subject '${s}' does not have subject-level mode configured`),
  incompatible: (message: string) => new RegistryError(409, 409, message),
  invalidSchema: (message: string) => new RegistryError(422, 42201, message),
  invalidVersion: (v: string) =>
    new RegistryError(
      422,
      42202,
      `The specified version '${v}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
    ),
  invalidCompatibility: (given: unknown) =>
    new RegistryError(
      422,
      42203,
      `Invalid compatibility level ${JSON.stringify(given)}. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive`,
    ),
  invalidMode: (given: unknown) =>
    new RegistryError(
      422,
      42204,
      `Invalid mode ${JSON.stringify(given)}. Valid values are READWRITE, READONLY, READONLY_OVERRIDE, IMPORT`,
    ),
  notPermitted: (message: string) => new RegistryError(422, 42205, message),
  badRequest: (message: string) => new RegistryError(400, 400, message),
  unauthorized: () => new RegistryError(401, 401, 'Unauthorized'),
  notFound: (path: string) => new RegistryError(404, 404, `HTTP 404 Not Found: no endpoint ${path}`),
  methodNotAllowed: (method: string, path: string) =>
    new RegistryError(405, 405, `HTTP 405 Method Not Allowed: ${method} ${path}`),
  store: (message: string) => new RegistryError(500, 50001, `Error while storing the schema: ${message}`),
  internal: (message: string) => new RegistryError(500, 500, `Internal server error: ${message}`),
  timeout: (message: string) => new RegistryError(500, 50002, `Operation timed out: ${message}`),
};
