import { useEffect, useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { base44 } from '@/api/base44Client';
import TaskForm from '@/components/TaskForm';

const { Project } = base44.entities;
const db = base44.entities;

export default function ProjectDetail() {
  const { projectId } = useParams();
  const navigate = useNavigate();
  const [project, setProject] = useState(null);
  const [tasks, setTasks] = useState([]);
  const [comments, setComments] = useState([]);
  const [otherProjects, setOtherProjects] = useState([]);
  const [selected, setSelected] = useState([]);

  useEffect(() => {
    async function load() {
      setProject(await Project.get(projectId)); // expect: entity Project.get
      const projectTasks = await base44.entities.Task.filter({ project_id: projectId }); // expect: entity Task.filter
      setTasks(projectTasks);
      const taskIds = projectTasks.map((task) => task.id);
      setComments(await db.Comment.filter({ task_id: { $in: taskIds } }, '-created_date')); // expect: entity Comment.filter
      setOtherProjects(await Project.filter({ status: 'active' }, 'name')); // expect: entity Project.filter; expect: literal-read Project.filter
    }
    load();
  }, [projectId]);

  async function setStatus(status) {
    setProject(await Project.update(projectId, { status })); // expect: entity Project.update
  }

  async function addStarterTasks() {
    const created = await base44.entities.Task.bulkCreate([ // expect: entity Task.bulkCreate
      { title: 'Kick-off meeting', project_id: projectId, status: 'todo', priority: 1 },
      { title: 'Write the brief', project_id: projectId, status: 'todo', priority: 2 },
      { title: 'Share it with the team', project_id: projectId, status: 'todo', priority: 3 },
    ]);
    setTasks((previous) => [...created, ...previous]);
  }

  async function startAll() {
    await base44.entities.Task.updateMany({ project_id: projectId, status: 'todo' }, { $set: { status: 'in_progress' } }); // expect: entity Task.updateMany
  }

  async function raiseSelected() {
    const updates = selected.map((id) => ({ id, priority: 1 }));
    await base44.entities.Task.bulkUpdate(updates); // expect: entity Task.bulkUpdate
    setSelected([]);
  }

  async function addComment(taskId, body) {
    const comment = await db.Comment.create({ task_id: taskId, body, author_email: project.owner_email }); // expect: entity Comment.create
    setComments((previous) => [comment, ...previous]);
  }

  async function removeProject() {
    await base44.entities.Comment.deleteMany({ task_id: { $in: tasks.map((task) => task.id) } }); // expect: entity Comment.deleteMany
    await Project.delete(projectId); // expect: entity Project.delete
    navigate('/');
  }

  function toggle(id) {
    setSelected((previous) => (previous.includes(id) ? previous.filter((other) => other !== id) : [...previous, id]));
  }

  if (!project) return null;
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-semibold" style={{ color: project.color }}>{project.name}</h1>
      <div className="flex gap-2">
        <button onClick={() => setStatus('on_hold')}>Put on hold</button>
        <button onClick={addStarterTasks}>Add starter tasks</button>
        <button onClick={startAll}>Start all</button>
        <button onClick={raiseSelected} disabled={selected.length === 0}>Raise priority</button>
        <button onClick={removeProject}>Delete project</button>
      </div>
      <TaskForm projectId={projectId} onSaved={(task) => task && setTasks((previous) => [task, ...previous])} />
      <ul>
        {tasks.map((task) => (
          <li key={task.id}>
            <input type="checkbox" checked={selected.includes(task.id)} onChange={() => toggle(task.id)} />
            {task.title} ({comments.filter((comment) => comment.task_id === task.id).length} comments)
            <button onClick={() => addComment(task.id, 'Looks good')}>👍</button>
          </li>
        ))}
      </ul>
      <p className="text-xs text-gray-400">{otherProjects.length} active projects</p>
    </div>
  );
}
