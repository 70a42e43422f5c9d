import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const CLIENT_APP_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../client/app');

/**
 * The web client's script, bundled from `client/app/main.ts` with esbuild on first request and kept
 * in memory: no build step, and what is served always matches the sources.
 */
export class ClientBundle {
  #script: Promise<string> | undefined;

  /** The bundled JavaScript of the page. */
  script(): Promise<string> {
    this.#script ??= this.#build().catch((error: unknown) => {
      this.#script = undefined;
      throw error;
    });
    return this.#script;
  }

  async #build(): Promise<string> {
    const entry = path.join(CLIENT_APP_DIR, 'main.ts');
    if (!existsSync(entry)) throw new Error(`web client entry ${entry} is missing`);
    const result = await build({
      entryPoints: [entry], bundle: true, format: 'esm', platform: 'browser', target: 'es2022',
      minify: true, write: false, logLevel: 'silent',
    });
    return result.outputFiles[0]!.text;
  }
}
