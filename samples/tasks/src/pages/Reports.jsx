import { useState } from 'react';
import { base44 } from '@/api/base44Client';
import { UploadFile } from '@/api/integrations';

const ENTITY_NAMES = ['Task', 'Project', 'Comment'];

const IMPORT_SCHEMA = {
  type: 'object',
  properties: {
    tasks: {
      type: 'array',
      items: { type: 'object', properties: { title: { type: 'string' }, due_date: { type: 'string' } } },
    },
  },
};

export default function Reports() {
  const [entityName, setEntityName] = useState('Task');
  const [rows, setRows] = useState([]);
  const [summary, setSummary] = useState(null);

  async function preview() {
    setRows(await base44.entities[entityName].list()); // expect: dynamic-entity list
  }

  async function createdBy(kind, email) {
    return base44.entities[`${kind}`].filter({ created_by: email }); // expect: dynamic-entity filter
  }

  async function summarise() {
    const tasks = (await base44.entities.Task?.list?.('-due_date', 200)) ?? []; // expect: entity Task.list; expect: literal-read Task.list
    const comments = await base44.entities['Comment'].count(); // expect: entity Comment.count
    const people = await base44.entities.User.list('-created_date', 100); // expect: entity User.list; expect: literal-read User.list
    const mine = await createdBy(entityName, people[0]?.email);
    setSummary({ tasks: tasks.length, comments, people: people.length, mine: mine.length });
  }

  async function runFunction(name, payload) {
    const response = await base44.functions.invoke(name, payload); // expect: function <dynamic>
    return response.data;
  }

  async function importFromSheet(event) {
    const file = event.target.files[0];
    if (!file) return;
    const { file_url } = await UploadFile({ file }); // expect: integration Core.UploadFile
    const extracted = await base44.integrations.Core.ExtractDataFromUploadedFile({ file_url, json_schema: IMPORT_SCHEMA }); // expect: integration Core.ExtractDataFromUploadedFile
    if (extracted.status === 'success') setRows(extracted.output.tasks);
  }

  return (
    <div className="space-y-4">
      <div className="flex gap-2">
        <select value={entityName} onChange={(event) => setEntityName(event.target.value)}>
          {ENTITY_NAMES.map((name) => (
            <option key={name}>{name}</option>
          ))}
        </select>
        <button onClick={preview}>Preview</button>
        <button onClick={summarise}>Summary</button>
        <button onClick={() => runFunction('legacyExport', { entity: entityName })}>Export CSV</button>
        <input type="file" accept=".csv,.xlsx" onChange={importFromSheet} />
      </div>
      {summary && (
        <p className="text-sm">
          {summary.tasks} tasks, {summary.comments} comments, {summary.people} people, {summary.mine} of yours
        </p>
      )}
      <pre className="overflow-x-auto text-xs">{JSON.stringify(rows.slice(0, 20), null, 2)}</pre>
    </div>
  );
}
