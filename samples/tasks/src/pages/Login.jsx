import { useState } from 'react';
import { base44 } from '@/api/base44Client';

export default function Login() {
  const params = new URLSearchParams(window.location.search);
  const [mode, setMode] = useState(params.get('reset_token') ? 'reset' : 'login');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [otp, setOtp] = useState('');
  const [error, setError] = useState(null);

  async function run(action) {
    setError(null);
    try {
      await action();
    } catch (failure) {
      setError(failure.message ?? String(failure));
    }
  }

  async function signIn() {
    await base44.auth.loginViaEmailPassword(email, password); // expect: auth loginViaEmailPassword
    window.location.assign(params.get('from_url') ?? '/');
  }

  async function signUp() {
    await base44.auth.register({ email, password }); // expect: auth register
    setMode('verify');
  }

  async function verify() {
    await base44.auth.verifyOtp({ email, otpCode: otp }); // expect: auth verifyOtp
    await signIn();
  }

  async function resendCode() {
    await base44.auth.resendOtp(email); // expect: auth resendOtp
  }

  async function forgot() {
    await base44.auth.resetPasswordRequest(email); // expect: auth resetPasswordRequest
    setMode('sent');
  }

  async function reset() {
    await base44.auth.resetPassword({ resetToken: params.get('reset_token'), newPassword: password }); // expect: auth resetPassword
    setMode('login');
  }

  function openHostedLogin() {
    window.location.href = 'https://tasks-demo.base44.app/login'; // expect: host tasks-demo.base44.app
  }

  const actions = { login: signIn, register: signUp, verify, reset, sent: forgot };
  return (
    <form
      className="mx-auto mt-24 max-w-sm space-y-3"
      onSubmit={(event) => {
        event.preventDefault();
        run(actions[mode]);
      }}
    >
      <h1 className="text-xl font-semibold">Tasks</h1>
      {mode !== 'reset' && <input type="email" value={email} onChange={(event) => setEmail(event.target.value)} placeholder="Email" />}
      {mode !== 'verify' && mode !== 'sent' && (
        <input type="password" value={password} onChange={(event) => setPassword(event.target.value)} placeholder="Password" />
      )}
      {mode === 'verify' && <input value={otp} onChange={(event) => setOtp(event.target.value)} placeholder="Code from the email" />}
      {error && <p className="text-sm text-red-600">{error}</p>}
      <button type="submit">{mode === 'register' ? 'Create account' : 'Continue'}</button>
      <div className="flex justify-between text-sm">
        <button type="button" onClick={() => setMode(mode === 'login' ? 'register' : 'login')}>
          {mode === 'login' ? 'Create an account' : 'I have an account'}
        </button>
        <button type="button" onClick={() => run(forgot)}>Forgot password?</button>
        {mode === 'verify' && <button type="button" onClick={() => run(resendCode)}>Resend code</button>}
        <button type="button" onClick={openHostedLogin}>Old login page</button>
      </div>
    </form>
  );
}
