import { useEffect, useState } from 'react';
import { base44 } from '@/api/base44Client';
import { Core, SendEmail } from '../api/integrations';

export default function Settings() {
  const [me, setMe] = useState(null);
  const [fullName, setFullName] = useState('');
  const [currentPassword, setCurrentPassword] = useState('');
  const [newPassword, setNewPassword] = useState('');
  const [inviteEmail, setInviteEmail] = useState('');
  const [contractUri, setContractUri] = useState(null);

  useEffect(() => {
    base44.auth.me().then((user) => { // expect: auth me
      setMe(user);
      setFullName(user.full_name ?? '');
    });
  }, []);

  async function saveProfile() {
    setMe(await base44.auth.updateMe({ full_name: fullName })); // expect: auth updateMe
  }

  async function savePassword() {
    await base44.auth.changePassword({ userId: me.id, currentPassword, newPassword }); // expect: auth changePassword
    setCurrentPassword('');
    setNewPassword('');
  }

  async function invite() {
    await base44.users.inviteUser(inviteEmail, 'user'); // expect: users inviteUser
    await SendEmail({ to: inviteEmail, subject: `${me.full_name} invited you to Tasks`, body: 'Look for the sign-up link in your inbox.' }); // expect: integration Core.SendEmail
    setInviteEmail('');
  }

  async function uploadContract(event) {
    const file = event.target.files[0];
    if (!file) return;
    const { file_uri } = await Core.UploadPrivateFile({ file }); // expect: integration Core.UploadPrivateFile
    setContractUri(file_uri);
  }

  async function openContract() {
    const { signed_url } = await Core.CreateFileSignedUrl({ file_uri: contractUri, expires_in: 300 }); // expect: integration Core.CreateFileSignedUrl
    window.open(signed_url, '_blank', 'noopener');
  }

  function signOut() {
    base44.auth.logout(); // expect: auth logout
  }

  if (!me) return null;
  return (
    <div className="max-w-md space-y-6">
      <section className="space-y-2">
        <h2 className="font-medium">Profile</h2>
        <input value={fullName} onChange={(event) => setFullName(event.target.value)} />
        <button onClick={saveProfile}>Save</button>
      </section>
      <section className="space-y-2">
        <h2 className="font-medium">Password</h2>
        <input type="password" value={currentPassword} onChange={(event) => setCurrentPassword(event.target.value)} />
        <input type="password" value={newPassword} onChange={(event) => setNewPassword(event.target.value)} />
        <button onClick={savePassword}>Change password</button>
      </section>
      {me.role === 'admin' && (
        <section className="space-y-2">
          <h2 className="font-medium">Invite a teammate</h2>
          <input type="email" value={inviteEmail} onChange={(event) => setInviteEmail(event.target.value)} />
          <button onClick={invite}>Invite</button>
        </section>
      )}
      <section className="space-y-2">
        <h2 className="font-medium">Signed contract</h2>
        <input type="file" accept="application/pdf" onChange={uploadContract} />
        {contractUri && <button onClick={openContract}>Open</button>}
      </section>
      <button onClick={signOut}>Sign out</button>
    </div>
  );
}
