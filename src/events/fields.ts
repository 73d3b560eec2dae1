/**
 * Field access by meaning. Azure delivers the same field as `ModelName`,
 * `modelName` or `model_name` depending on the schema and the publisher, so
 * intake compares names after lower-casing them and removing everything that
 * is not a letter or a digit.
 */

export type JsonObject = Record<string, unknown>;

/** Canonical form of a field name: `ModelName`, `modelName` and `model_name` all give `modelname`. */
export function canonicalName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A field found by canonical name, with the spelling the sender used. */
export interface FoundField {
  key: string;
  value: unknown;
}

/**
 * Finds a field by canonical name. Throws when two spellings of the same name
 * carry different values, because picking one would guess the sender's meaning.
 */
export function findField(object: JsonObject, name: string): FoundField | undefined {
  const wanted = canonicalName(name);
  let found: FoundField | undefined;
  for (const [key, value] of Object.entries(object)) {
    if (canonicalName(key) !== wanted) continue;
    if (found && JSON.stringify(found.value) !== JSON.stringify(value)) {
      throw new FieldConflictError(`fields "${found.key}" and "${key}" name the same thing with different values`, key);
    }
    found ??= { key, value };
  }
  return found;
}

/** Returns the value of a field found by canonical name, or undefined. */
export function field(object: JsonObject, name: string): unknown {
  return findField(object, name)?.value;
}

/** Returns the field as an object, or undefined when it is absent or not an object. */
export function objectField(object: JsonObject, name: string): JsonObject | undefined {
  const value = field(object, name);
  return isObject(value) ? value : undefined;
}

/** Returns a non-empty string field, or undefined when it is absent, empty or not a string. */
export function textField(object: JsonObject, name: string): string | undefined {
  const value = field(object, name);
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Raised when one field arrives under two spellings with different values. */
export class FieldConflictError extends Error {
  override name = 'FieldConflictError';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

/** Characters that may not appear in names that become part of a release key. */
const unsafeInKey = /[|\p{Cc}]/u;

/** Returns true when the text can be part of a release key: 1..255 characters, no `|` and no control characters. */
export function isKeySafe(text: string): boolean {
  return text.length > 0 && text.length <= 255 && !unsafeInKey.test(text);
}
