import { useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import { base44 } from '@/api/base44Client';

type Message = { role: 'user' | 'assistant'; content: string };
type Conversation = { id: string; agent_name: string; messages: Message[] };

export default function TaskAssistant() {
  const [conversation, setConversation] = useState<Conversation | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [draft, setDraft] = useState<string>('');

  useEffect(() => {
    let unsubscribe: (() => void) | undefined;
    async function start(): Promise<void> {
      const created: Conversation = await base44.agents.createConversation({ agent_name: 'task_assistant', metadata: { source: 'dashboard' } }); // expect: agent createConversation
      setConversation(created);
      unsubscribe = base44.agents.subscribeToConversation(created.id, (data: Conversation) => { // expect: agent subscribeToConversation
        setMessages(data.messages);
      });
    }
    start();
    return () => unsubscribe?.();
  }, []);

  async function send(event: FormEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    if (!conversation || draft.trim() === '') return;
    await base44.agents.addMessage(conversation, { role: 'user', content: draft }); // expect: agent addMessage
    setDraft('');
  }

  return (
    <div className="flex h-[70vh] flex-col rounded border bg-white">
      <ul className="flex-1 space-y-2 overflow-y-auto p-4">
        {messages.map((message, index) => (
          <li key={index} className={message.role === 'user' ? 'text-right' : 'text-left'}>
            {message.content}
          </li>
        ))}
      </ul>
      <form onSubmit={send} className="flex gap-2 border-t p-2">
        <input value={draft} onChange={(event) => setDraft(event.target.value)} className="flex-1" placeholder="Ask about your tasks…" />
        <button type="submit" disabled={!conversation}>Send</button>
      </form>
    </div>
  );
}
