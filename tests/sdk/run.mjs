// Runs calls of the published @base44/sdk (pinned in package.json) against a server, for
// offbase's tests (tests/support/sdk.rs spawns it with the machine's Node).
//
// stdin: one JSON object
//   {"server_url": "http://127.0.0.1:PORT", "app_id": "...", "token": null | "...",
//    "service_token": null | "...", "timeout_ms": 20000 (optional, per call),
//    "calls": [{"entity": "Task", "method": "filter", "args": [...], "service": false},
//              {"auth": "me", "args": []}, {"users": "inviteUser", "args": [...]}, ...]}
// Any other key of a call (e.g. "label") is ignored. An argument {"$file": {"name", "text",
// "type"}} is passed as a File of that name, text and type (`importEntities(file)`).
// stdout: one JSON document, {"results": [{"ok": value} | {"error": {"status", "message",
//   "code", "data"}}, ...]}, one result per call, in call order. Calls run one after another;
//   `auth.loginViaEmailPassword` sets the token it gets on the client, as the SDK does, for
//   the calls after it.
// Tokens are never printed: the token and service token given, and any `access_token` an
// answer carries, are replaced by "<redacted>" in what goes out.
// Exit status: 0 once the document is printed (failed calls included); 2 for a bad input or an
// SDK that cannot be loaded, with the reason on stderr.

// The SDK logs failed requests unless in production; the results carry them already.
process.env.NODE_ENV = "production";
// Keep stdout for the one document: anything else that logs goes to stderr.
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

const AUTH_METHODS = new Set([
  "me",
  "updateMe",
  "loginViaEmailPassword",
  "isAuthenticated",
  "register",
  "verifyOtp",
  "resendOtp",
  "resetPasswordRequest",
  "resetPassword",
  "changePassword",
  "inviteUser",
]);
const USERS_METHODS = new Set(["inviteUser"]);
const REDACTED = "<redacted>";

function fail(message) {
  process.stderr.write(`run.mjs: ${message}\n`);
  process.exit(2);
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

// A call's outcome within `ms`, or a timeout error.
function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The error of a failed call: a Base44Error's status, message, code and data; for anything
// else (a timeout, a TypeError), its name and message with no status.
function describeError(error) {
  if (error && error.name === "Base44Error") {
    return {
      status: error.status ?? null,
      message: String(error.message ?? ""),
      code: error.code ?? null,
      data: error.data ?? null,
    };
  }
  const name = error && error.name ? error.name : "Error";
  const message = error && error.message !== undefined ? error.message : String(error);
  return { status: null, message: `${name}: ${message}`, code: null, data: null };
}

// An argument as the SDK takes it: {"$file": {...}} becomes a File.
function argument(value) {
  if (value && typeof value === "object" && !Array.isArray(value) && "$file" in value) {
    const file = value.$file ?? {};
    return new File([String(file.text ?? "")], String(file.name ?? "file"), {
      type: String(file.type ?? "application/octet-stream"),
    });
  }
  return value;
}

async function runCall(client, call) {
  if (typeof call !== "object" || call === null) {
    throw new Error("a call must be a JSON object");
  }
  if (!Array.isArray(call.args ?? [])) {
    throw new Error("`args` must be an array");
  }
  const args = (call.args ?? []).map(argument);
  if (typeof call.users === "string") {
    if (!USERS_METHODS.has(call.users)) {
      throw new Error(`unknown users call \`${call.users}\` (known: ${[...USERS_METHODS].join(", ")})`);
    }
    // The SDK has `users` on the user's client only (the service role has none).
    return client.users[call.users](...args);
  }
  if (typeof call.auth === "string") {
    if (!AUTH_METHODS.has(call.auth)) {
      throw new Error(`unknown auth call \`${call.auth}\` (known: ${[...AUTH_METHODS].join(", ")})`);
    }
    return client.auth[call.auth](...args);
  }
  if (typeof call.entity !== "string" || typeof call.method !== "string") {
    throw new Error("a call names `entity` and `method`, or `auth`, or `users`");
  }
  const modules = call.service ? client.asServiceRole : client;
  const handler = modules.entities[call.entity];
  if (!handler || typeof handler[call.method] !== "function") {
    throw new Error(`entities.${call.entity} has no method \`${call.method}\``);
  }
  return handler[call.method](...args);
}

// `value` with every secret replaced, and `access_token` fields blanked.
function redact(value, secrets) {
  if (typeof value === "string") {
    let text = value;
    for (const secret of secrets) {
      text = text.split(secret).join(REDACTED);
    }
    return text;
  }
  if (Array.isArray(value)) {
    return value.map((item) => redact(item, secrets));
  }
  if (value && typeof value === "object") {
    const out = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] =
        key === "access_token" && typeof item === "string" && item !== ""
          ? REDACTED
          : redact(item, secrets);
    }
    return out;
  }
  return value;
}

const text = await readStdin();
let input;
try {
  input = JSON.parse(text);
} catch (error) {
  fail(`stdin is not one JSON object: ${error.message}`);
}
if (typeof input !== "object" || input === null || !Array.isArray(input.calls)) {
  fail("stdin must be a JSON object with a `calls` array");
}
if (typeof input.server_url !== "string" || typeof input.app_id !== "string") {
  fail("`server_url` and `app_id` must be strings");
}

let sdk;
try {
  sdk = await import("@base44/sdk");
} catch (error) {
  fail(`cannot load @base44/sdk (run \`npm ci --prefix tests/sdk\`): ${error.message}`);
}

const secrets = [input.token, input.service_token].filter(
  (secret) => typeof secret === "string" && secret !== "",
);
const timeoutMs = Number.isFinite(input.timeout_ms) ? input.timeout_ms : 20000;

const client = sdk.createClient({
  serverUrl: input.server_url,
  appId: input.app_id,
  token: input.token ?? undefined,
  serviceToken: input.service_token ?? undefined,
  requiresAuth: false,
  // No analytics queue or heartbeat: nothing but the calls goes to the server.
  analytics: { enabled: false },
});

const results = [];
for (const call of input.calls) {
  try {
    const value = await withTimeout(runCall(client, call), timeoutMs);
    if (value && typeof value === "object" && typeof value.access_token === "string") {
      secrets.push(value.access_token);
    }
    results.push({ ok: value === undefined ? null : value });
  } catch (error) {
    results.push({ error: describeError(error) });
  }
}

client.cleanup();
const document = JSON.stringify({ results: redact(results, secrets) });
// Exit once stdout is flushed, whatever sockets or timers the SDK left open.
process.stdout.write(`${document}\n`, () => process.exit(0));
