import { createClientFromRequest } from 'npm:@base44/sdk@0.8.6'; // expect: import npm:@base44/sdk@0.8.6

type TaskRow = { id: string; title?: string; status?: string; priority?: number; due_date?: string; assignee_email?: string };

// Older layout (functions/<name>.ts): every task as CSV in a private file, for admins.
Deno.serve(async (req: Request) => { // expect: backend-function legacyExport deno-serve
  const base44 = createClientFromRequest(req);
  const user = await base44.auth.me(); // expect: auth me
  if (user?.role !== 'admin') {
    return Response.json({ error: 'Admins only' }, { status: 403 });
  }

  const tasks: TaskRow[] = await base44.asServiceRole.entities.Task.list('-updated_date', 500); // expect: entity Task.list service-role; expect: literal-read Task.list
  const header = 'id,title,status,priority,due_date,assignee_email';
  const lines = tasks.map((task) =>
    [task.id, task.title, task.status, task.priority, task.due_date, task.assignee_email]
      .map((value) => JSON.stringify(value ?? ''))
      .join(','),
  );
  const file = new File([[header, ...lines].join('\n')], 'tasks.csv', { type: 'text/csv' });

  const { file_uri } = await base44.asServiceRole.integrations.Core.UploadPrivateFile({ file }); // expect: integration Core.UploadPrivateFile service-role
  const { signed_url } = await base44.asServiceRole.integrations.Core.CreateFileSignedUrl({ file_uri, expires_in: 3600 }); // expect: integration Core.CreateFileSignedUrl service-role
  return Response.json({ url: signed_url, rows: tasks.length });
});
