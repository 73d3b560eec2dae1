/**
 * Function keys. With no keys file devhost accepts every request, as Core
 * Tools does locally; with `<stateDir>/host-keys.json` it checks them as the
 * real host does (`code` query parameter or `x-functions-key` header).
 */
import path from 'node:path';

import { readJsonFile } from './host';

export interface KeysFile {
  masterKey?: string;
  /** Host-level function keys by key name. */
  functionKeys?: Record<string, string>;
  /** Keys of one function, by function name and key name. */
  functions?: Record<string, Record<string, string>>;
  /** Extension keys, for example `eventgrid_extension` and `durabletask_extension`. */
  systemKeys?: Record<string, string>;
}

export type AuthLevel = 'anonymous' | 'function' | 'admin' | 'system';

export class KeyStore {
  private constructor(readonly keys: KeysFile | undefined) {}

  static load(stateDir: string): KeyStore {
    return new KeyStore(readJsonFile<KeysFile>(path.join(stateDir, 'host-keys.json')));
  }

  get enforced(): boolean {
    return this.keys !== undefined;
  }

  /** A key to put in URLs that devhost hands out (the durable client binding). */
  systemKey(name: string): string | undefined {
    return this.keys?.systemKeys?.[name] ?? this.keys?.masterKey;
  }

  /** Whether `presented` grants `level` for `functionName` (or the extension `systemKeyName`). */
  allows(level: AuthLevel, presented: string | undefined, target: { functionName?: string; systemKeyName?: string } = {}): boolean {
    if (!this.keys || level === 'anonymous') return true;
    if (!presented) return false;
    if (this.keys.masterKey !== undefined && presented === this.keys.masterKey) return true;
    if (level === 'admin') return false;
    if (level === 'system') return target.systemKeyName !== undefined && this.keys.systemKeys?.[target.systemKeyName] === presented;
    const hostKeys = Object.values(this.keys.functionKeys ?? {});
    const functionKeys = Object.entries(this.keys.functions ?? {}).find(([name]) => name.toLowerCase() === target.functionName?.toLowerCase())?.[1] ?? {};
    return [...hostKeys, ...Object.values(functionKeys)].includes(presented);
  }
}
