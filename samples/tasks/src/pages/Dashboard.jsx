import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { base44 } from '@/api/base44Client';
import { Task } from '@/api/entities';
import TaskForm from '@/components/TaskForm';
import { useTaskFeed } from '@/hooks/useTaskFeed';
import { fetchOverdueTasks } from '@/lib/legacyApi';
import { announceDone } from '@/lib/notify';

const STATUS_LABELS = { todo: 'To do', in_progress: 'In progress', done: 'Done' };

export default function Dashboard() {
  const [allTasks, setAllTasks] = useState([]);
  const [recent, setRecent] = useState([]);
  const [inProgress, setInProgress] = useState([]);
  const [doneCount, setDoneCount] = useState(0);
  const [overdue, setOverdue] = useState([]);
  const [everyone, setEveryone] = useState(null);
  const [digestSent, setDigestSent] = useState(false);
  const feed = useTaskFeed();

  useEffect(() => {
    async function load() {
      setAllTasks(await base44.entities.Task.list()); // expect: entity Task.list; expect: literal-read Task.list
      setRecent(await Task.list('-created_date', 50)); // expect: entity Task.list; expect: literal-read Task.list
      setInProgress(await base44.entities.Task.filter({ status: 'in_progress' }, '-updated_date', 20)); // expect: entity Task.filter; expect: literal-read Task.filter
      setDoneCount(await base44.entities.Task.count({ status: 'done' })); // expect: entity Task.count
      setOverdue(await fetchOverdueTasks(new Date().toISOString().slice(0, 10)));
    }
    load();
  }, [feed.length]);

  async function loadEveryonesTasks() {
    // An admin shortcut the builder wrote: the service role does not belong in the browser.
    setEveryone(await base44.asServiceRole.entities.Task.list()); // expect: entity Task.list service-role; expect: literal-read Task.list
  }

  async function sendDigestNow() {
    await base44.functions.invoke('sendDigest', { include_done: false }); // expect: function sendDigest
    setDigestSent(true);
  }

  async function markDone(task) {
    await Task.update(task.id, { status: 'done' }); // expect: entity Task.update
    await announceDone(task);
  }

  return (
    <div className="space-y-6">
      <header className="flex items-center justify-between">
        <h1 className="text-2xl font-semibold">My tasks</h1>
        <div className="flex gap-2">
          <button onClick={sendDigestNow} disabled={digestSent}>{digestSent ? 'Digest sent' : 'Email me a digest'}</button>
          <button onClick={loadEveryonesTasks}>Everyone's tasks</button>
        </div>
      </header>
      <p className="text-sm text-gray-500">
        {allTasks.length} tasks, {doneCount} done, {overdue.length} overdue, {feed.length} changes since you opened this page
      </p>
      <TaskForm onSaved={(task) => task && setRecent((previous) => [task, ...previous])} />
      <section>
        <h2 className="font-medium">In progress</h2>
        <ul>
          {inProgress.map((task) => (
            <li key={task.id} className="flex justify-between">
              <Link to={`/projects/${task.project_id}`}>{task.title}</Link>
              <button onClick={() => markDone(task)}>Done</button>
            </li>
          ))}
        </ul>
      </section>
      <section>
        <h2 className="font-medium">Recently created</h2>
        <ul>
          {recent.map((task) => (
            <li key={task.id}>
              {task.title} · {STATUS_LABELS[task.status] ?? task.status}
            </li>
          ))}
        </ul>
      </section>
      {everyone && <p className="text-xs text-gray-400">{everyone.length} tasks across the team</p>}
    </div>
  );
}
