// The chromium the browser tests drive (playwright-core downloads none): GYRE_CHROMIUM, else
// the first of chromium, chromium-browser, google-chrome, google-chrome-stable on PATH. The
// same search as test/ensure-browser.mjs, which runs first in `npm test` and installs
// Debian's chromium where it may, or stops with the command to run.

import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const names = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The browser's path; throws, saying what to run, where there is none. */
export function browserPath(): string {
  const chosen = process.env.GYRE_CHROMIUM;
  if (chosen) return chosen;
  for (const name of names) {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (dir && executable(join(dir, name))) return join(dir, name);
    }
  }
  throw new Error(`no chromium for the browser tests (GYRE_CHROMIUM, ${names.join(', ')}): run \`apt-get install -y chromium\` or set GYRE_CHROMIUM`);
}
