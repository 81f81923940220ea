import { base44 } from '@/api/base44Client';

export interface TaskLike {
  id: string;
  title: string;
  assignee_email?: string | null;
}

// Slack is an installed integration package, not part of Core.
export async function announceDone(task: TaskLike, channel: string = '#tasks'): Promise<void> {
  const who = task.assignee_email ?? 'someone';
  await base44.integrations.Slack.PostMessage({ channel, text: `${who} finished "${task.title}"` }); // expect: integration Slack.PostMessage
}
