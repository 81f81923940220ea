// Drives the app of tests/frontend (built by build.mjs, served by `offbase serve --frontend`)
// in headless Chromium, as a person would: sign in, see the list, add a task, rename it,
// upload an image for it and see it, then open a deep link of the app (the server's history
// fallback) with the kept sign-in. A screenshot after each step.
//
//   node tests/frontend/drive.mjs < input.json
//
// input: {url, email, password, chromium, screenshots, image, new_title, edited_title,
// timeout_ms (each wait), deadline_ms (the whole drive, default 75 s)}. Prints one JSON
// document of what it saw (see `report` below): the tasks listed after signing in, the created
// task's id and titles, the image's natural size, the deep link's list, requests to other
// origins, answers >= 400, page errors and console errors, the screenshots' names and each
// step's time. Exits 1 with the page's status line on stderr (and `failure.png` among the
// screenshots) when a step fails.
//
// puppeteer-core comes from tests/sdk/node_modules (`npm ci --prefix tests/sdk`); the browser
// is the system's Chromium (`apt-get install chromium`), reaching no address but loopback.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'sdk', 'package.json'));
const puppeteer = require('puppeteer-core');

const input = JSON.parse(readFileSync(0, 'utf8'));
const timeout = input.timeout_ms ?? 15000;
const origin = new URL(input.url).origin;

const report = {
  listed: [],
  created_id: null,
  created_title: null,
  edited_title: null,
  image: null,
  deep_link: null,
  screenshots: [],
  offsite_requests: [],
  failed_responses: [],
  page_errors: [],
  console_errors: [],
  steps_ms: {},
};

const args = [
  // Everything but loopback (which Chromium never proxies) goes to a closed port: the page
  // and the browser's own background requests reach nothing outside this machine.
  '--proxy-server=http://127.0.0.1:9',
  '--disable-dev-shm-usage',
  '--disable-gpu',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication',
];
if (process.getuid?.() === 0) {
  // Chromium's sandbox refuses to run as root.
  args.push('--no-sandbox');
}

const browser = await puppeteer.launch({
  executablePath: input.chromium,
  headless: true,
  args,
  defaultViewport: { width: 900, height: 760 },
  timeout,
});

// The whole drive ends by itself well before the test gives up on it (90 s), closing the
// browser rather than leaving it behind.
const deadline = setTimeout(async () => {
  console.error(`drive.mjs: not done within ${input.deadline_ms ?? 75000} ms`);
  console.error(JSON.stringify(report));
  await browser.close().catch(() => {});
  process.exit(1);
}, input.deadline_ms ?? 75000);
deadline.unref();

let page;
let started = Date.now();
function timed(name) {
  const now = Date.now();
  report.steps_ms[name] = now - started;
  started = now;
}

async function shot(name) {
  const file = path.join(input.screenshots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  report.screenshots.push(`${name}.png`);
}

async function statusLine() {
  return page.$eval('#status', (status) => status.textContent).catch(() => '(no status line)');
}

// Waits until the app has rendered the list `renders` times and is idle, or says why not.
async function rendered(renders, what) {
  try {
    await page.waitForFunction(
      (renders) =>
        document.body.dataset.state === 'error' ||
        (document.body.dataset.state === 'list' &&
          document.getElementById('task-list').dataset.renders === String(renders)),
      { timeout },
      renders,
    );
  } catch (error) {
    const status = await statusLine();
    throw new Error(`${what}: the list did not render (${error.message}); status: ${status}`);
  }
  const state = await page.evaluate(() => document.body.dataset.state);
  if (state === 'error') {
    throw new Error(`${what}: ${await statusLine()}`);
  }
}

async function listed() {
  return page.$$eval('#task-list li.task', (items) =>
    items.map((item) => ({
      id: item.dataset.id,
      title: item.querySelector('.task-title')?.textContent ?? '',
      created_by: item.dataset.createdBy,
      image: item.querySelector('img.task-image')?.getAttribute('src') ?? null,
    })),
  );
}

async function replaceText(selector, text) {
  await page.$eval(selector, (field) => {
    field.value = '';
  });
  await page.type(selector, text);
}

try {
  page = await browser.newPage();
  page.setDefaultTimeout(timeout);
  page.on('request', (request) => {
    const url = request.url();
    if (/^(data|blob|about):/.test(url)) return;
    if (new URL(url).origin !== origin) report.offsite_requests.push(url);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) {
      report.failed_responses.push({ url: response.url(), status: response.status() });
    }
  });
  page.on('pageerror', (error) => report.page_errors.push(String(error?.message ?? error)));
  page.on('console', (message) => {
    if (message.type() === 'error') report.console_errors.push(message.text());
  });

  // What a page showing nothing looks like, for the test to compare the others with.
  await page.goto('about:blank');
  await shot('00-blank');
  timed('blank');

  await page.goto(`${input.url}/`, { waitUntil: 'load' });
  await page.waitForFunction(
    () => ['login', 'error'].includes(document.body.dataset.state),
    { timeout },
  );
  if ((await page.evaluate(() => document.body.dataset.state)) !== 'login') {
    throw new Error(`opening the app: ${await statusLine()}`);
  }
  await shot('01-login');
  timed('open');

  await page.type('#email', input.email);
  await page.type('#password', input.password);
  await page.click('#login-submit');
  await rendered(1, 'signing in');
  report.listed = await listed();
  report.signed_in_as = await page.$eval('#who', (who) => who.textContent);
  await shot('02-list');
  timed('sign in');

  await page.type('#new-title', input.new_title);
  await page.click('#create-submit');
  await rendered(2, 'adding a task');
  const createdId = await page.$eval('#task-list', (list) => list.dataset.createdId ?? null);
  report.created_id = createdId;
  const titleOf = (id) => page.$eval(`#task-${id} .task-title`, (title) => title.textContent);
  report.created_title = await titleOf(createdId);
  await shot('03-created');
  timed('create');

  await page.click(`#task-${createdId} .task-edit`);
  await page.waitForSelector('#edit-form:not([hidden])');
  await replaceText('#edit-title', input.edited_title);
  await page.click('#edit-submit');
  await rendered(3, 'renaming the task');
  report.edited_title = await titleOf(createdId);
  await shot('04-edited');
  timed('update');

  await page.click(`#task-${createdId} .task-attach`);
  await page.waitForSelector('#upload-form:not([hidden])');
  const fileInput = await page.$('#upload-file');
  await fileInput.uploadFile(input.image);
  await page.click('#upload-submit');
  await rendered(4, 'uploading the image');
  const imageSelector = `#task-${createdId} img.task-image`;
  await page.waitForSelector(imageSelector);
  try {
    await page.waitForFunction(
      (selector) => {
        const image = document.querySelector(selector);
        return image && image.complete && image.naturalWidth > 0;
      },
      { timeout },
      imageSelector,
    );
  } catch (error) {
    throw new Error(`the uploaded image did not load: ${error.message}`);
  }
  report.image = await page.$eval(imageSelector, (image) => ({
    src: image.getAttribute('src'),
    natural_width: image.naturalWidth,
    natural_height: image.naturalHeight,
  }));
  await shot('05-image');
  timed('upload');

  // A deep link of the app: the server answers index.html, and the kept token signs in.
  await page.goto(`${input.url}/tasks/${createdId}`, { waitUntil: 'load' });
  await rendered(1, 'opening a deep link');
  await page.waitForFunction(
    (selector) => {
      const image = document.querySelector(selector);
      return image && image.complete && image.naturalWidth > 0;
    },
    { timeout },
    imageSelector,
  );
  report.deep_link = {
    path: await page.evaluate(() => location.pathname),
    titles: (await listed()).map((task) => task.title),
    image_loaded: true,
  };
  await shot('06-deep-link');
  timed('deep link');

  console.log(JSON.stringify(report));
} catch (error) {
  if (page) {
    await shot('failure').catch(() => {});
  }
  console.error(`drive.mjs: ${error?.stack ?? error}`);
  console.error(JSON.stringify(report));
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
  await browser.close().catch(() => {});
}
