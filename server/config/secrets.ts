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
export function loadOrCreateSecrets(dataDir: string): { secrets: GeneratedSecrets; file: string; created: boolean } {
  const file = path.resolve(dataDir, 'secrets.json');
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<GeneratedSecrets>;
    if (typeof stored.apiKey === 'string' && typeof stored.jwtSecret === 'string') {
      return { secrets: { apiKey: stored.apiKey, jwtSecret: stored.jwtSecret }, file, created: false };
    }
  }
  const secrets = { apiKey: randomBytes(24).toString('base64url'), jwtSecret: randomBytes(48).toString('base64url') };
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { secrets, file, created: true };
}
