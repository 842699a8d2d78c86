import { readFileSync } from 'node:fs';
import { type Config, configSchema } from './schema.ts';
import { CONFIG_FILE_ENV, ENV_KEYS } from './env.ts';

export type { Config } from './schema.ts';
export { ENV_KEYS } from './env.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Tree = { [key: string]: unknown };

function setPath(tree: Tree, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = tree;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Tree;
  }
  node[keys[keys.length - 1]!] = value;
}

function mergeInto(target: Tree, source: Tree): Tree {
  for (const [key, value] of Object.entries(source)) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      target[key] = mergeInto((target[key] as Tree | undefined) ?? {}, value as Tree);
    } else {
      target[key] = value;
    }
  }
  return target;
}

function readConfigFile(path: string): Tree {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as Tree;
  } catch (error) {
    throw new ConfigError(`cannot read ${CONFIG_FILE_ENV}=${path}: ${(error as Error).message}`);
  }
}

/**
 * Defaults ← config file ($ROUNDTABLE_CONFIG) ← environment variables ← explicit overrides (tests).
 * Throws ConfigError naming the bad key (and its variable) so a misconfigured server never starts.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Tree = {}): Config {
  const raw: Tree = {};
  const file = env[CONFIG_FILE_ENV];
  if (file) mergeInto(raw, readConfigFile(file));
  for (const [name, path] of Object.entries(ENV_KEYS)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(raw, path, value);
  }
  mergeInto(raw, overrides);

  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.join('.');
    const envName = Object.entries(ENV_KEYS).find(([, path]) => path === key)?.[0];
    return `${key}${envName ? ` (${envName})` : ''}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
}
