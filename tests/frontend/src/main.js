// A tiny app on the published @base44/sdk, as an exported Base44 template creates its client
// (`serverUrl: ''`: the API on the page's own origin), served by `offbase serve --frontend`.
// tests/serve_browser.rs builds it (build.mjs) and drives it in headless Chromium (drive.mjs):
// sign in, list the tasks, create one, rename it, upload an image for it.
//
// What the driver waits on: `body[data-state]` (`login`, `busy`, `list`, `error`),
// `#task-list[data-renders]` (counts the renders), `li.task[data-id]` with `.task-title`,
// and `img.task-image` for a task with an `image_url`.
import { createClient, getAccessToken } from '@base44/sdk';
import './style.css';

const appId = import.meta.env.VITE_BASE44_APP_ID;
const PAGE_SIZE = 20;

export const base44 = createClient({ appId, serverUrl: '' });

const $ = (id) => document.getElementById(id);
let renders = 0;

function state(name, text, error = false) {
  document.body.dataset.state = name;
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
}

async function step(busyText, work) {
  state('busy', busyText);
  try {
    await work();
  } catch (error) {
    const status = error?.status ?? error?.response?.status ?? '';
    state('error', `${busyText} failed ${status}: ${error?.message ?? error}`, true);
  }
}

function show(section) {
  $('login').hidden = section !== 'login';
  $('app').hidden = section !== 'app';
}

function taskItem(task) {
  const item = document.createElement('li');
  item.className = 'task';
  item.id = `task-${task.id}`;
  item.dataset.id = task.id;
  item.dataset.createdBy = task.created_by ?? '';

  const title = document.createElement('span');
  title.className = 'task-title';
  title.textContent = task.title ?? '';
  const status = document.createElement('span');
  status.className = 'task-status';
  status.textContent = task.status ?? '';
  const edit = document.createElement('button');
  edit.type = 'button';
  edit.className = 'task-edit';
  edit.textContent = 'Rename';
  edit.addEventListener('click', () => {
    $('edit-id').value = task.id;
    $('edit-title').value = task.title ?? '';
    $('edit-form').hidden = false;
    $('edit-title').focus();
  });
  const attach = document.createElement('button');
  attach.type = 'button';
  attach.className = 'task-attach';
  attach.textContent = 'Image';
  attach.addEventListener('click', () => {
    $('upload-id').value = task.id;
    $('upload-form').hidden = false;
  });
  item.append(title, status, edit, attach);

  if (task.image_url) {
    const image = document.createElement('img');
    image.className = 'task-image';
    image.alt = `image of ${task.title ?? 'the task'}`;
    image.src = task.image_url;
    item.append(image);
  }
  return item;
}

async function refresh() {
  const tasks = await base44.entities.Task.list('-created_date', PAGE_SIZE);
  const list = $('task-list');
  list.replaceChildren(...tasks.map(taskItem));
  renders += 1;
  list.dataset.renders = String(renders);
  list.dataset.count = String(tasks.length);
  state('list', `${tasks.length} tasks`);
}

async function signedIn() {
  const me = await base44.auth.me();
  $('who').textContent = `Signed in as ${me.full_name ?? me.email} (${me.email})`;
  show('app');
  await refresh();
}

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  step('Signing in', async () => {
    await base44.auth.loginViaEmailPassword($('email').value, $('password').value);
    await signedIn();
  });
});

$('create-form').addEventListener('submit', (event) => {
  event.preventDefault();
  step('Adding the task', async () => {
    const task = await base44.entities.Task.create({ title: $('new-title').value, status: 'todo' });
    $('task-list').dataset.createdId = task.id;
    $('new-title').value = '';
    await refresh();
  });
});

$('edit-form').addEventListener('submit', (event) => {
  event.preventDefault();
  step('Renaming the task', async () => {
    await base44.entities.Task.update($('edit-id').value, { title: $('edit-title').value });
    $('edit-form').hidden = true;
    await refresh();
  });
});

$('upload-form').addEventListener('submit', (event) => {
  event.preventDefault();
  step('Uploading the image', async () => {
    const file = $('upload-file').files[0];
    const { file_url } = await base44.integrations.Core.UploadFile({ file });
    await base44.entities.Task.update($('upload-id').value, { image_url: file_url });
    $('upload-form').hidden = true;
    await refresh();
  });
});

step('Starting', async () => {
  // A token kept from an earlier sign-in (or handed over in `?access_token=`): check it.
  if (getAccessToken() && (await base44.auth.isAuthenticated())) {
    await signedIn();
  } else {
    show('login');
    state('login', 'Sign in to see your tasks');
  }
});
