use super::*;

/// An app of `files` (relative name, contents) in a temporary folder.
fn app(files: &[(&str, &str)]) -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    for (name, contents) in files {
        let path = folder.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("{error}"));
        }
        std::fs::write(&path, contents).unwrap_or_else(|error| panic!("{error}"));
    }
    folder
}

fn found(assessment: &Assessment) -> Vec<String> {
    assessment
        .findings
        .iter()
        .map(|finding| {
            format!(
                "{}:{} {} {}",
                finding.file,
                finding.line,
                finding.kind.name(),
                finding.detail
            )
        })
        .collect()
}

#[test]
fn calls_through_aliases_destructuring_imports_and_optional_chaining_are_found() {
    let folder = app(&[
        (
            "src/api/base44Client.js",
            "import { createClient } from '@base44/sdk';\nexport const base44 = createClient({ appId: import.meta.env.VITE_BASE44_APP_ID });\n",
        ),
        (
            "src/api/entities.js",
            "import { base44 } from './base44Client';\nexport const Task = base44.entities.Task;\nexport const Core = base44.integrations.Core;\n",
        ),
        (
            "src/pages/Tasks.jsx",
            "import { Task, Core } from '@/api/entities';\nimport { base44 } from '@/api/base44Client';\nconst { Project } = base44.entities;\nconst db = base44.entities;\nexport default function Tasks({ kind }) {\n  Task.filter({ status: 'open' }, '-created_date', 20);\n  Project.get(kind);\n  db.Comment?.list?.();\n  base44.entities[kind].list();\n  base44.asServiceRole.entities.Task.list();\n  Core.InvokeLLM({ prompt: kind });\n  base44.functions.invoke('sendDigest', {});\n  base44.auth.me();\n  return <div>{kind}</div>;\n}\n",
        ),
    ]);
    let assessment = assess(folder.path()).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        found(&assessment),
        [
            "src/api/base44Client.js:2 env VITE_BASE44_APP_ID",
            "src/pages/Tasks.jsx:6 entity Task.filter",
            "src/pages/Tasks.jsx:6 literal-read Task.filter",
            "src/pages/Tasks.jsx:7 entity Project.get",
            "src/pages/Tasks.jsx:8 entity Comment.list",
            "src/pages/Tasks.jsx:8 literal-read Comment.list",
            "src/pages/Tasks.jsx:9 dynamic-entity list",
            "src/pages/Tasks.jsx:10 entity Task.list service-role",
            "src/pages/Tasks.jsx:10 literal-read Task.list",
            "src/pages/Tasks.jsx:11 integration Core.InvokeLLM",
            "src/pages/Tasks.jsx:12 function sendDigest",
            "src/pages/Tasks.jsx:13 auth me",
        ]
    );
    // `list()` takes no argument: a literal read too (the default page of 50).
    assert_eq!(assessment.literal_reads.len(), 3);
    let read = &assessment.literal_reads[0];
    assert_eq!(read.sort.as_deref(), Some("-created_date"));
    assert_eq!(read.limit, Some(20));
    assert_eq!(read.name.as_deref(), Some("src/pages/Tasks.jsx:6"));
}

#[test]
fn a_file_that_does_not_parse_is_listed_and_the_rest_is_read() {
    let folder = app(&[
        ("src/Broken.jsx", "export default function ( {\n"),
        ("src/Fine.js", "base44.entities.Task.list();\n"),
    ]);
    let assessment = assess(folder.path()).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        found(&assessment),
        [
            "src/Fine.js:1 entity Task.list",
            "src/Fine.js:1 literal-read Task.list"
        ]
    );
    assert_eq!(assessment.files.unparsed.len(), 1);
    assert_eq!(assessment.files.unparsed[0].file, "src/Broken.jsx");
}

#[test]
fn backend_functions_hosts_and_file_urls_are_found() {
    let folder = app(&[
        (
            "base44/functions/stripeWebhook/entry.ts",
            "import Stripe from 'npm:stripe@14';\nimport { createClientFromRequest } from 'npm:@base44/sdk@0.8.6';\nDeno.serve(async (req) => {\n  const base44 = createClientFromRequest(req);\n  const key = Deno.env.get('STRIPE_KEY');\n  await base44.asServiceRole.entities.Order.update('x', {});\n  return new Response('ok');\n});\n",
        ),
        (
            "index.html",
            "<link rel=\"icon\" href=\"https://base44.app/api/apps/abc/files/public/abc/logo.png\">\n<a href=\"https://tasks.base44.app/login\">x</a>\n",
        ),
    ]);
    let assessment = assess(folder.path()).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        found(&assessment),
        [
            "base44/functions/stripeWebhook/entry.ts:1 import npm:stripe@14",
            "base44/functions/stripeWebhook/entry.ts:2 import npm:@base44/sdk@0.8.6",
            "base44/functions/stripeWebhook/entry.ts:3 backend-function stripeWebhook deno-serve",
            "base44/functions/stripeWebhook/entry.ts:5 env STRIPE_KEY",
            "base44/functions/stripeWebhook/entry.ts:6 entity Order.update service-role",
            "index.html:1 file-url base44.app",
            "index.html:2 host tasks.base44.app",
        ]
    );
    let function = &assessment.backend_functions[0];
    assert!(function.service_role);
    assert_eq!(function.trigger.as_deref(), Some("webhook"));
    assert_eq!(function.style, "deno-serve");
}
