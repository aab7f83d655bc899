// The console's renderer: mount the app, then pick the transport (Electron's preload bridge,
// else Socket.IO to the page's origin) and start listening.
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import './lib/theme.svelte';
import { createTransport } from './lib/api';
import { errorText } from './lib/format';
import { app } from './lib/store.svelte';

const target = document.getElementById('app');
if (!target) throw new Error('#app is missing from index.html');
mount(App, { target });

createTransport().then(
  (api) => app.start(api),
  (e: unknown) => {
    app.startError = `cannot start the console transport: ${errorText(e)}`;
  },
);
