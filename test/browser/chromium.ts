// Debian's Chromium driven by playwright-core (never a downloaded browser), with WebGPU on: the one
// launch used by test/browser.test.ts (dist/ in a page) and test/web.test.ts (the training page).
// Without /usr/bin/chromium, callers print `skipped: ...` (CI installs it: setup.sh --with-browser).

import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Headless Chromium with WebGPU enabled; here that gives a SwiftShader adapter (software Vulkan). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--enable-unsafe-webgpu',
      '--no-sandbox',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
    timeout: 120_000,
  });
}
