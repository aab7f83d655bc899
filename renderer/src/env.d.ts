// For tsc without svelte-check: components are typed loosely here (svelte-check, when
// installed, reads the real types from the .svelte files).
declare module '*.svelte' {
  import type { Component } from 'svelte';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const component: Component<any>;
  export default component;
}

// Stylesheets imported for their side effect (Vite bundles them).
declare module '*.css';
