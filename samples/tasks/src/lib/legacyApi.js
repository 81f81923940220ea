// Written before the SDK could filter on dates: reads the entity API over plain HTTP.
const API = 'https://app.base44.com/api'; // expect: host app.base44.com
const APP_ID = 'f5f842e2b59f57295f65d0d0';
const API_KEY = import.meta.env.VITE_BASE44_API_KEY; // expect: env VITE_BASE44_API_KEY

export async function fetchOverdueTasks(today) {
  const q = encodeURIComponent(JSON.stringify({ due_date: { $lt: today }, status: { $ne: 'done' } }));
  const response = await fetch(`${API}/apps/${APP_ID}/entities/Task?q=${q}&sort=due_date&limit=500`, {
    headers: { api_key: API_KEY, 'Content-Type': 'application/json' },
  });
  if (!response.ok) throw new Error(`entity API answered ${response.status}`);
  return response.json();
}
