import { useState } from 'react';
import { base44 } from '@/api/base44Client';
import { Task } from '@/api/entities';
import { InvokeLLM, UploadFile } from '@/api/integrations';

const EMPTY_CHECKLIST_IMAGE = 'https://base44.app/api/apps/f5f842e2b59f57295f65d0d0/files/public/f5f842e2b59f57295f65d0d0/7d2f0c9e1_empty-checklist.png'; // expect: file-url base44.app

export default function TaskForm({ projectId, task, onSaved }) {
  const [title, setTitle] = useState(task?.title ?? '');
  const [priority, setPriority] = useState(task?.priority ?? 2);
  const [dueDate, setDueDate] = useState(task?.due_date ?? '');
  const [checklist, setChecklist] = useState(task?.checklist ?? []);
  const [attachmentUrl, setAttachmentUrl] = useState(null);
  const [coverUrl, setCoverUrl] = useState(null);

  async function save(event) {
    event.preventDefault();
    const fields = { title, project_id: projectId, priority: Number(priority), due_date: dueDate || null, checklist };
    let saved;
    if (task) {
      saved = await Task.update(task.id, fields); // expect: entity Task.update
    } else {
      saved = await Task.create({ ...fields, status: 'todo' }); // expect: entity Task.create
    }
    onSaved?.(saved);
  }

  async function remove() {
    await Task.delete(task.id); // expect: entity Task.delete
    onSaved?.(null);
  }

  async function suggestChecklist() {
    const result = await InvokeLLM({ // expect: integration Core.InvokeLLM
      prompt: `Break the task "${title}" into at most five short checklist items.`,
      response_json_schema: { type: 'object', properties: { items: { type: 'array', items: { type: 'string' } } } },
    });
    setChecklist(result.items.map((text) => ({ text, done: false })));
  }

  async function estimate() {
    const answer = await base44.integrations.Core.InvokeLLM({ prompt: `How many hours would "${title}" take? Answer with a number.` }); // expect: integration Core.InvokeLLM
    return Number.parseFloat(answer);
  }

  async function attach(event) {
    const file = event.target.files[0];
    if (!file) return;
    const { file_url } = await UploadFile({ file }); // expect: integration Core.UploadFile
    setAttachmentUrl(file_url);
  }

  async function generateCover() {
    const { url } = await base44.integrations.Core.GenerateImage({ prompt: `A flat, friendly illustration for the task: ${title}` }); // expect: integration Core.GenerateImage
    setCoverUrl(url);
  }

  return (
    <form onSubmit={save} className="space-y-2 rounded border bg-white p-4">
      <input value={title} onChange={(event) => setTitle(event.target.value)} placeholder="What needs doing?" required />
      <select value={priority} onChange={(event) => setPriority(event.target.value)}>
        <option value={1}>High</option>
        <option value={2}>Medium</option>
        <option value={3}>Low</option>
      </select>
      <input type="date" value={dueDate} onChange={(event) => setDueDate(event.target.value)} />
      {checklist.length === 0 ? (
        <img src={EMPTY_CHECKLIST_IMAGE} alt="" className="h-16" />
      ) : (
        <ul>
          {checklist.map((item) => (
            <li key={item.text}>{item.done ? '☑' : '☐'} {item.text}</li>
          ))}
        </ul>
      )}
      {coverUrl && <img src={coverUrl} alt="" className="h-24 rounded" />}
      {attachmentUrl && <a href={attachmentUrl}>Attachment</a>}
      <div className="flex gap-2">
        <button type="submit">{task ? 'Save' : 'Add task'}</button>
        <button type="button" onClick={suggestChecklist}>Suggest a checklist</button>
        <button type="button" onClick={estimate}>Estimate</button>
        <button type="button" onClick={generateCover}>Cover image</button>
        <input type="file" onChange={attach} />
        {task && <button type="button" onClick={remove}>Delete</button>}
      </div>
    </form>
  );
}
