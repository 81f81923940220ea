import { createClientFromRequest } from 'npm:@base44/sdk@0.8.6'; // expect: import npm:@base44/sdk@0.8.6
import { secrets, waitUntil } from 'base44:runtime'; // expect: import base44:runtime

const DAY_MS = 86_400_000;

// Deletes tasks that have been done for longer than the retention period, with their comments.
export default async function (req: Request): Promise<Response> { // expect: backend-function nightlyCleanup export-default
  const base44 = createClientFromRequest(req);
  const retentionDays = Number(secrets.get('RETENTION_DAYS') ?? '90'); // expect: env RETENTION_DAYS
  const cutoff = new Date(Date.now() - retentionDays * DAY_MS).toISOString();

  const stale = await base44.asServiceRole.entities.Task.filter({ status: 'done', updated_date: { $lt: cutoff } }, 'updated_date', 500); // expect: entity Task.filter service-role
  const ids: string[] = stale.map((task: { id: string }) => task.id);
  if (ids.length > 0) {
    await base44.asServiceRole.entities.Comment.deleteMany({ task_id: { $in: ids } }); // expect: entity Comment.deleteMany service-role
    await base44.asServiceRole.entities.Task.deleteMany({ id: { $in: ids } }); // expect: entity Task.deleteMany service-role
  }

  waitUntil(
    base44.asServiceRole.integrations.Slack.PostMessage({ channel: '#ops', text: `nightlyCleanup removed ${ids.length} tasks done before ${cutoff}` }), // expect: integration Slack.PostMessage service-role
  );
  return Response.json({ removed: ids.length, cutoff });
}
