import { createClientFromRequest } from 'npm:@base44/sdk@0.8.6'; // expect: import npm:@base44/sdk@0.8.6

// Emails the signed-in user a digest of their open tasks, grouped by project.
// Called from the dashboard, and nightly by an automation configured on the platform.
Deno.serve(async (req) => { // expect: backend-function sendDigest deno-serve
  try {
    const base44 = createClientFromRequest(req);
    const user = await base44.auth.me(); // expect: auth me
    if (!user) {
      return Response.json({ error: 'Unauthorized' }, { status: 401 });
    }

    const { include_done = false } = await req.json().catch(() => ({}));
    const fromName = Deno.env.get('DIGEST_FROM') ?? 'Tasks'; // expect: env DIGEST_FROM

    const query = include_done
      ? { assignee_email: user.email }
      : { assignee_email: user.email, status: { $ne: 'done' } };
    const tasks = await base44.asServiceRole.entities.Task.filter(query, 'due_date', 100); // expect: entity Task.filter service-role
    const projects = await base44.asServiceRole.entities.Project.list(); // expect: entity Project.list service-role; expect: literal-read Project.list
    const memberOf = await base44.entities.Project.filter({ member_emails: user.email }); // expect: entity Project.filter

    const names = new Map(projects.map((project) => [project.id, project.name]));
    const lines = tasks.map((task) => `- [${names.get(task.project_id) ?? 'No project'}] ${task.title}${task.due_date ? ` (due ${task.due_date})` : ''}`);

    await base44.asServiceRole.integrations.Core.SendEmail({ // expect: integration Core.SendEmail service-role
      from_name: fromName,
      to: user.email,
      subject: `Your tasks: ${tasks.length} open in ${memberOf.length} projects`,
      body: lines.join('\n') || 'Nothing open. Enjoy your day!',
    });

    return Response.json({ sent: true, tasks: tasks.length });
  } catch (error) {
    return Response.json({ error: error.message }, { status: 500 });
  }
});
