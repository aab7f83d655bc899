// Light or dark: the operator's choice (kept in localStorage), or the system's
// (prefers-color-scheme, followed as it changes). Applied as data-theme on <html>, which
// app.css's variables key on; charts read their colours from the same variables.

export type ThemePref = 'system' | 'light' | 'dark';
const storageKey = 'gyre-theme';

function stored(): ThemePref {
  try {
    const v = localStorage.getItem(storageKey);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

class Theme {
  pref = $state<ThemePref>('system');
  systemDark = $state(false);
  applied = $derived<'light' | 'dark'>(this.pref === 'system' ? (this.systemDark ? 'dark' : 'light') : this.pref);

  constructor() {
    if (typeof window === 'undefined') return;
    this.pref = stored();
    const mq = window.matchMedia('(prefers-color-scheme: dark)');
    this.systemDark = mq.matches;
    mq.addEventListener('change', (e) => {
      this.systemDark = e.matches;
      this.apply();
    });
    this.apply();
  }

  private apply(): void {
    document.documentElement.dataset.theme = this.applied;
  }

  set(pref: ThemePref): void {
    this.pref = pref;
    try {
      if (pref === 'system') localStorage.removeItem(storageKey);
      else localStorage.setItem(storageKey, pref);
    } catch {
      // storage refused (a locked-down profile): the choice lasts for this page
    }
    this.apply();
  }

  /** light → dark → system → light ... */
  cycle(): void {
    this.set(this.pref === 'light' ? 'dark' : this.pref === 'dark' ? 'system' : 'light');
  }
}

export const theme = new Theme();

/** A CSS variable's current value (charts draw on a canvas, outside CSS). */
export function cssVar(name: string, fallback: string): string {
  if (typeof document === 'undefined') return fallback;
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}
