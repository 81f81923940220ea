import { useEffect, useState } from 'react';
import { BrowserRouter, Link, Navigate, Route, Routes } from 'react-router-dom';
import { base44 } from '@/api/base44Client';
import { User } from '@/api/entities';
import TaskAssistant from '@/components/TaskAssistant';
import Dashboard from '@/pages/Dashboard';
import Login from '@/pages/Login';
import ProjectDetail from '@/pages/ProjectDetail';
import Reports from '@/pages/Reports';
import Settings from '@/pages/Settings';

function AuthGate({ children }) {
  const [user, setUser] = useState(null);

  useEffect(() => {
    async function check() {
      const signedIn = await base44.auth.isAuthenticated(); // expect: auth isAuthenticated
      if (!signedIn) {
        base44.auth.redirectToLogin(window.location.href); // expect: auth redirectToLogin
        return;
      }
      const me = await User.me(); // expect: auth me
      setUser(me);
    }
    check();
  }, []);

  if (!user) return <div className="p-8 text-gray-500">Loading…</div>;
  return (
    <div className="min-h-screen bg-gray-50">
      <nav className="flex gap-4 border-b bg-white px-6 py-3 text-sm">
        <Link to="/">Tasks</Link>
        <Link to="/reports">Reports</Link>
        <Link to="/assistant">Assistant</Link>
        <Link to="/settings" className="ml-auto">{user.full_name ?? user.email}</Link>
      </nav>
      <main className="mx-auto max-w-5xl p-6">{children}</main>
    </div>
  );
}

export default function App() {
  return (
    <BrowserRouter>
      <Routes>
        <Route path="/login" element={<Login />} />
        <Route path="/" element={<AuthGate><Dashboard /></AuthGate>} />
        <Route path="/projects/:projectId" element={<AuthGate><ProjectDetail /></AuthGate>} />
        <Route path="/reports" element={<AuthGate><Reports /></AuthGate>} />
        <Route path="/assistant" element={<AuthGate><TaskAssistant /></AuthGate>} />
        <Route path="/settings" element={<AuthGate><Settings /></AuthGate>} />
        <Route path="*" element={<Navigate to="/" replace />} />
      </Routes>
    </BrowserRouter>
  );
}
