import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface GeneratedSecrets {
  apiKey: string;
  jwtSecret: string;
}

/**
 * Secrets the operator did not configure are generated once and kept in `<dataDir>/secrets.json`
 * (mode 0600), so tokens and the API key survive restarts and never live in the repository.
 */
/** The secrets stored in `<dataDir>/secrets.json`, if the server has generated them there; never creates them. */
export function readStoredSecrets(dataDir: string): { secrets: GeneratedSecrets | null; file: string } {
  const file = path.resolve(dataDir, 'secrets.json');
  if (!existsSync(file)) return { secrets: null, file };
  const stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<GeneratedSecrets>;
  const valid = typeof stored.apiKey === 'string' && typeof stored.jwtSecret === 'string';
  return { secrets: valid ? { apiKey: stored.apiKey!, jwtSecret: stored.jwtSecret! } : null, file };
}

export function loadOrCreateSecrets(dataDir: string): { secrets: GeneratedSecrets; file: string; created: boolean } {
  const { secrets: stored, file } = readStoredSecrets(dataDir);
  if (stored) return { secrets: stored, file, created: false };
  const secrets = { apiKey: randomBytes(24).toString('base64url'), jwtSecret: randomBytes(48).toString('base64url') };
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { secrets, file, created: true };
}
