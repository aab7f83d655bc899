// Keyboard shortcuts: `g` then a screen's letter goes to it (as in GitHub and Gmail), `?`
// opens the help sheet, `/` focuses the screen's search field, `p` pauses or resumes,
// Shift+D switches the theme, Escape closes the sheet. Ignored while typing in a field and
// with Ctrl, Alt or Meta held (the browser's and the OS's own shortcuts win).

import { router, routes, type RouteId } from './router.svelte';
import { app } from './store.svelte';
import { theme } from './theme.svelte';

/** How long after `g` the screen letter is awaited. */
const chordMs = 1500;

export const screenKeys: readonly { key: string; id: RouteId; label: string }[] = routes.flatMap((r) => ('key' in r ? [{ key: r.key, id: r.id, label: r.label }] : []));

export const otherKeys: readonly { keys: string; what: string }[] = [
  { keys: '?', what: 'this help' },
  { keys: '/', what: "focus the screen's search or filter field" },
  { keys: 'p', what: 'pause or resume every view' },
  { keys: 'Shift+D', what: 'theme: light, dark, system' },
  { keys: 'Esc', what: 'close this help' },
  { keys: '← → (on the ring)', what: 'previous or next partition; Enter shows it' },
];

function typing(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  if (!el || !el.tagName) return false;
  return el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName);
}

class Shortcuts {
  helpOpen = $state(false);
  private gAt = 0;

  onKey(e: KeyboardEvent): void {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'Escape' && this.helpOpen) {
      this.helpOpen = false;
      e.preventDefault();
      return;
    }
    if (typing(e.target) || app.confirmRequest) return;
    const now = Date.now();
    if (this.gAt && now - this.gAt < chordMs) {
      this.gAt = 0;
      const target = screenKeys.find((k) => k.key === e.key.toLowerCase());
      if (target) {
        e.preventDefault();
        this.helpOpen = false;
        router.go(target.id);
      }
      return;
    }
    switch (e.key) {
      case 'g':
        this.gAt = now;
        return;
      case '?':
        this.helpOpen = !this.helpOpen;
        e.preventDefault();
        return;
      case '/': {
        const field = document.querySelector<HTMLElement>('main [data-shortcut="search"]');
        if (field) {
          e.preventDefault();
          field.focus();
        }
        return;
      }
      case 'p':
        app.setPaused(!app.paused);
        return;
      case 'D':
        if (e.shiftKey) theme.cycle();
        return;
    }
  }
}

export const shortcuts = new Shortcuts();
