import { createClient } from '@base44/sdk';

// Both values come from .env.local, written when the app was exported.
const appId = import.meta.env.VITE_BASE44_APP_ID; // expect: env VITE_BASE44_APP_ID
const appBaseUrl = import.meta.env.VITE_BASE44_BACKEND_URL; // expect: env VITE_BASE44_BACKEND_URL

// Create a client with authentication required
export const base44 = createClient({
  appId,
  serverUrl: '',
  requiresAuth: true,
  appBaseUrl,
});
