//! One JavaScript or TypeScript file read with a real parser (oxc): every call the Base44 SDK
//! answers, however it is reached (the client `base44`, a client `createClient` or
//! `createClientFromRequest` made, a variable or a destructured name holding part of it, a
//! name another file exports, optional chaining, computed members), the names a file exports
//! that stand for part of the SDK, its imports, its environment reads and the entry of a
//! backend function.

use crate::{Finding, Kind};
use oxc_allocator::Allocator;
use oxc_ast::ast::{
    Argument, BindingPatternKind, CallExpression, ChainElement, Declaration,
    ExportDefaultDeclaration, ExportNamedDeclaration, Expression, ImportDeclaration,
    ImportDeclarationSpecifier, ModuleExportName, ObjectPropertyKind, PropertyKey,
    VariableDeclarator,
};
use oxc_ast_visit::{Visit, walk};
use oxc_span::SourceType;
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// A step of a member chain: a name, or a computed member whose name is not a literal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Segment {
    Name(String),
    Dynamic,
}

/// What a name of a file stands for: a path inside the SDK client (empty: the client itself).
pub(crate) type SdkPath = Vec<Segment>;

/// The names a module exports that stand for part of the SDK, by export name.
pub(crate) type Exports = BTreeMap<String, SdkPath>;

/// A literal call: the arguments of a `list` or `filter` whose arguments are all literals.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LiteralCall {
    pub entity: String,
    pub method: String,
    pub arguments: Vec<Value>,
    pub line: usize,
}

/// What one file holds.
#[derive(Debug, Default)]
pub(crate) struct FileScan {
    pub findings: Vec<Finding>,
    pub exports: Exports,
    /// Import specifier to the names taken from it (imported name, local name).
    pub imports: Vec<(String, Vec<(String, String)>)>,
    pub literal_calls: Vec<LiteralCall>,
    /// A parse error, when the file does not parse (its findings are then empty).
    pub error: Option<String>,
}

/// Reads `source` (the file at `path`, `file` as reports name it) in two steps: `imported`
/// gives the SDK names other files export, by local name, as resolved for this file.
pub(crate) fn scan_file(
    path: &Path,
    file: &str,
    source: &str,
    imported: &BTreeMap<String, SdkPath>,
) -> FileScan {
    let source_type = SourceType::from_path(path)
        .unwrap_or_default()
        .with_jsx(true);
    let allocator = Allocator::default();
    let parsed = oxc_parser::Parser::new(&allocator, source, source_type).parse();
    let mut scan = FileScan::default();
    if parsed.panicked || !parsed.errors.is_empty() {
        let message = parsed.errors.first().map_or_else(
            || "the parser gave up".to_owned(),
            |error| error.to_string(),
        );
        let line = parsed
            .errors
            .first()
            .and_then(|error| error.labels.as_ref())
            .and_then(|labels| labels.first())
            .map(|label| Lines::new(source).line(label.offset()));
        scan.error = Some(match line {
            Some(line) => format!("line {line}: {message}"),
            None => message,
        });
        return scan;
    }
    let mut visitor = Scanner {
        file: file.to_owned(),
        lines: Lines::new(source),
        bindings: imported.clone(),
        runtime_secrets: Vec::new(),
        scan,
    };
    visitor.visit_program(&parsed.program);
    visitor.scan
}

/// Byte offsets to 1-based line numbers.
pub(crate) struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    pub(crate) fn new(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, byte)| *byte == b'\n')
                .map(|(offset, _)| offset + 1),
        );
        Lines { starts }
    }

    pub(crate) fn line(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(index) => index + 1,
            Err(index) => index,
        }
    }
}

struct Scanner {
    file: String,
    lines: Lines,
    /// Local names standing for part of the SDK.
    bindings: BTreeMap<String, SdkPath>,
    /// Local names of `secrets` imported from `base44:runtime`.
    runtime_secrets: Vec<String>,
    scan: FileScan,
}

/// Names that are an SDK client wherever they appear (the templates' `base44`).
const CLIENT_NAMES: [&str; 1] = ["base44"];
/// Functions whose result is an SDK client.
const CLIENT_FACTORIES: [&str; 2] = ["createClient", "createClientFromRequest"];

impl Scanner {
    fn find(&mut self, kind: Kind, detail: String, offset: u32) {
        self.scan.findings.push(Finding {
            kind,
            detail,
            file: self.file.clone(),
            line: self.lines.line(offset as usize),
        });
    }

    /// The SDK path an expression stands for, when it is part of the SDK.
    fn sdk_path(&self, expression: &Expression<'_>) -> Option<SdkPath> {
        match expression {
            Expression::Identifier(identifier) => {
                let name = identifier.name.as_str();
                if let Some(path) = self.bindings.get(name) {
                    return Some(path.clone());
                }
                CLIENT_NAMES.contains(&name).then(Vec::new)
            }
            Expression::StaticMemberExpression(member) => {
                let mut path = self.sdk_path(&member.object)?;
                path.push(Segment::Name(member.property.name.to_string()));
                Some(path)
            }
            Expression::ComputedMemberExpression(member) => {
                let mut path = self.sdk_path(&member.object)?;
                path.push(match literal_text(&member.expression) {
                    Some(name) => Segment::Name(name),
                    None => Segment::Dynamic,
                });
                Some(path)
            }
            Expression::ChainExpression(chain) => match &chain.expression {
                ChainElement::StaticMemberExpression(member) => {
                    let mut path = self.sdk_path(&member.object)?;
                    path.push(Segment::Name(member.property.name.to_string()));
                    Some(path)
                }
                ChainElement::ComputedMemberExpression(member) => {
                    let mut path = self.sdk_path(&member.object)?;
                    path.push(match literal_text(&member.expression) {
                        Some(name) => Segment::Name(name),
                        None => Segment::Dynamic,
                    });
                    Some(path)
                }
                _ => None,
            },
            Expression::ParenthesizedExpression(inner) => self.sdk_path(&inner.expression),
            Expression::TSNonNullExpression(inner) => self.sdk_path(&inner.expression),
            Expression::TSAsExpression(inner) => self.sdk_path(&inner.expression),
            Expression::AwaitExpression(inner) => self.sdk_path(&inner.argument),
            Expression::CallExpression(call) => {
                let Expression::Identifier(callee) = &call.callee else {
                    return None;
                };
                CLIENT_FACTORIES
                    .contains(&callee.name.as_str())
                    .then(Vec::new)
            }
            _ => None,
        }
    }

    /// A call: classified when its callee is part of the SDK.
    fn call(&mut self, call: &CallExpression<'_>) {
        let Some(path) = self.sdk_path(&call.callee) else {
            if let Some(name) = env_read(call).or_else(|| self.secret_read(call)) {
                self.find(Kind::Env, name, call.span.start);
            }
            return;
        };
        let (service, rest) = match path.split_first() {
            Some((Segment::Name(first), rest)) if first == "asServiceRole" => (true, rest),
            _ => (false, &path[..]),
        };
        let service_suffix = if service { " service-role" } else { "" };
        let name = |segment: &Segment| match segment {
            Segment::Name(name) => Some(name.clone()),
            Segment::Dynamic => None,
        };
        let offset = call.span.start;
        match rest {
            [Segment::Name(area), entity, method] if area == "entities" => {
                let Some(method) = name(method) else {
                    return;
                };
                match name(entity) {
                    Some(entity) => {
                        self.find(
                            Kind::Entity,
                            format!("{entity}.{method}{service_suffix}"),
                            offset,
                        );
                        self.literal_call(&entity, &method, call);
                    }
                    None => self.find(Kind::DynamicEntity, method, offset),
                }
            }
            [Segment::Name(area), Segment::Name(method)] if area == "auth" => {
                self.find(Kind::Auth, method.clone(), offset);
            }
            [Segment::Name(area), Segment::Name(method)] if area == "users" => {
                self.find(Kind::Users, method.clone(), offset);
            }
            [Segment::Name(area), Segment::Name(method)] if area == "agents" => {
                self.find(Kind::Agent, method.clone(), offset);
            }
            [Segment::Name(area), Segment::Name(method)]
                if area == "functions" && method == "invoke" =>
            {
                let function = call
                    .arguments
                    .first()
                    .and_then(Argument::as_expression)
                    .and_then(literal_text)
                    .unwrap_or_else(|| "<dynamic>".to_owned());
                self.find(Kind::Function, function, offset);
            }
            [Segment::Name(area), package, integration] if area == "integrations" => {
                let package = name(package).unwrap_or_else(|| "<dynamic>".to_owned());
                let integration = name(integration).unwrap_or_else(|| "<dynamic>".to_owned());
                self.find(
                    Kind::Integration,
                    format!("{package}.{integration}{service_suffix}"),
                    offset,
                );
            }
            _ => {}
        }
    }

    /// `secrets.get('NAME')`, `secrets` from `base44:runtime`: the name.
    fn secret_read(&self, call: &CallExpression<'_>) -> Option<String> {
        let Expression::StaticMemberExpression(get) = &call.callee else {
            return None;
        };
        let Expression::Identifier(object) = &get.object else {
            return None;
        };
        if get.property.name != "get"
            || !self
                .runtime_secrets
                .iter()
                .any(|name| name == object.name.as_str())
        {
            return None;
        }
        call.arguments
            .first()
            .and_then(Argument::as_expression)
            .and_then(literal_text)
    }

    /// A `list` or `filter` whose arguments are all literals: a read offbase can replay.
    fn literal_call(&mut self, entity: &str, method: &str, call: &CallExpression<'_>) {
        if !matches!(method, "list" | "filter") {
            return;
        }
        let arguments: Option<Vec<Value>> = call
            .arguments
            .iter()
            .map(|argument| argument.as_expression().and_then(literal_value))
            .collect();
        if let Some(arguments) = arguments {
            let line = self.lines.line(call.span.start as usize);
            self.find(
                Kind::LiteralRead,
                format!("{entity}.{method}"),
                call.span.start,
            );
            self.scan.literal_calls.push(LiteralCall {
                entity: entity.to_owned(),
                method: method.to_owned(),
                arguments,
                line,
            });
        }
    }

    /// `const x = <sdk path>` and `const { a, b: c } = <sdk path>`.
    fn declarator(&mut self, declarator: &VariableDeclarator<'_>) -> Vec<(String, SdkPath)> {
        let Some(init) = &declarator.init else {
            return Vec::new();
        };
        let Some(path) = self.sdk_path(init) else {
            return Vec::new();
        };
        let mut bound = Vec::new();
        match &declarator.id.kind {
            BindingPatternKind::BindingIdentifier(identifier) => {
                bound.push((identifier.name.to_string(), path));
            }
            BindingPatternKind::ObjectPattern(pattern) => {
                for property in &pattern.properties {
                    let Some(key) = property_name(&property.key) else {
                        continue;
                    };
                    if let BindingPatternKind::BindingIdentifier(local) = &property.value.kind {
                        let mut path = path.clone();
                        path.push(Segment::Name(key));
                        bound.push((local.name.to_string(), path));
                    }
                }
            }
            _ => {}
        }
        for (name, path) in &bound {
            self.bindings.insert(name.clone(), path.clone());
        }
        bound
    }
}

impl<'a> Visit<'a> for Scanner {
    fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
        self.call(it);
        walk::walk_call_expression(self, it);
    }

    fn visit_variable_declarator(&mut self, it: &VariableDeclarator<'a>) {
        self.declarator(it);
        walk::walk_variable_declarator(self, it);
    }

    fn visit_export_named_declaration(&mut self, it: &ExportNamedDeclaration<'a>) {
        if let Some(Declaration::VariableDeclaration(declaration)) = &it.declaration {
            for declarator in &declaration.declarations {
                for (name, path) in self.declarator(declarator) {
                    self.scan.exports.insert(name, path);
                }
            }
        }
        for specifier in &it.specifiers {
            let local = export_name(&specifier.local);
            let exported = export_name(&specifier.exported);
            if let Some(path) = self.bindings.get(&local).cloned() {
                self.scan.exports.insert(exported, path);
            }
        }
        walk::walk_export_named_declaration(self, it);
    }

    fn visit_export_default_declaration(&mut self, it: &ExportDefaultDeclaration<'a>) {
        if self.file_is_backend_function() {
            let name = backend_function_name(&self.file);
            self.find(
                Kind::BackendFunction,
                format!("{name} export-default"),
                it.span.start,
            );
        }
        walk::walk_export_default_declaration(self, it);
    }

    fn visit_import_declaration(&mut self, it: &ImportDeclaration<'a>) {
        let source = it.source.value.to_string();
        if is_platform_import(&source) {
            self.find(Kind::Import, source.clone(), it.span.start);
        }
        let mut names = Vec::new();
        for specifier in it.specifiers.iter().flatten() {
            match specifier {
                ImportDeclarationSpecifier::ImportSpecifier(specifier) => {
                    let imported = export_name(&specifier.imported);
                    if source == "base44:runtime" && imported == "secrets" {
                        self.runtime_secrets.push(specifier.local.name.to_string());
                    }
                    names.push((imported, specifier.local.name.to_string()));
                }
                ImportDeclarationSpecifier::ImportDefaultSpecifier(specifier) => {
                    names.push(("default".to_owned(), specifier.local.name.to_string()));
                }
                ImportDeclarationSpecifier::ImportNamespaceSpecifier(_) => {}
            }
        }
        self.scan.imports.push((source, names));
    }

    fn visit_static_member_expression(&mut self, it: &oxc_ast::ast::StaticMemberExpression<'a>) {
        // `import.meta.env.VITE_BASE44_X`
        if it.property.name.starts_with("VITE_BASE44")
            && let Expression::StaticMemberExpression(env) = &it.object
            && env.property.name == "env"
            && matches!(env.object, Expression::MetaProperty(_))
        {
            self.find(Kind::Env, it.property.name.to_string(), it.span.start);
        }
        walk::walk_static_member_expression(self, it);
    }

    fn visit_expression_statement(&mut self, it: &oxc_ast::ast::ExpressionStatement<'a>) {
        // `Deno.serve(...)` as a backend function's entry.
        if self.file_is_backend_function()
            && let Expression::CallExpression(call) = &it.expression
            && let Expression::StaticMemberExpression(callee) = &call.callee
            && callee.property.name == "serve"
            && matches!(&callee.object, Expression::Identifier(object) if object.name == "Deno")
        {
            let name = backend_function_name(&self.file);
            self.find(
                Kind::BackendFunction,
                format!("{name} deno-serve"),
                call.span.start,
            );
        }
        walk::walk_expression_statement(self, it);
    }
}

impl Scanner {
    fn file_is_backend_function(&self) -> bool {
        is_backend_function_file(&self.file)
    }
}

/// Whether a file (relative, `/`-separated) is a backend function's entry:
/// `base44/functions/<name>/(entry|main|index).(ts|js)` or `functions/<name>.(ts|js)`.
pub(crate) fn is_backend_function_file(file: &str) -> bool {
    let parts: Vec<&str> = file.split('/').collect();
    let entry = |name: &str| {
        ["entry", "main", "index"]
            .iter()
            .any(|stem| name.starts_with(&format!("{stem}.")))
    };
    match parts.as_slice() {
        ["base44", "functions", _, last] => entry(last),
        ["functions", last] => last.ends_with(".ts") || last.ends_with(".js"),
        ["functions", _, last] => entry(last),
        _ => false,
    }
}

/// The function's name: its folder, or its file's stem.
pub(crate) fn backend_function_name(file: &str) -> String {
    let parts: Vec<&str> = file.split('/').collect();
    match parts.as_slice() {
        ["base44", "functions", name, _] | ["functions", name, _] => (*name).to_owned(),
        ["functions", last] => last
            .rsplit_once('.')
            .map_or(*last, |(stem, _)| stem)
            .to_owned(),
        _ => file.to_owned(),
    }
}

/// Imports a backend function needs on another runtime: `npm:`, `jsr:`, `base44:` and URLs.
fn is_platform_import(source: &str) -> bool {
    ["npm:", "jsr:", "base44:", "https://", "http://"]
        .iter()
        .any(|prefix| source.starts_with(prefix))
}

/// `Deno.env.get('NAME')`: the name.
fn env_read(call: &CallExpression<'_>) -> Option<String> {
    let Expression::StaticMemberExpression(get) = &call.callee else {
        return None;
    };
    let Expression::StaticMemberExpression(env) = &get.object else {
        return None;
    };
    let Expression::Identifier(deno) = &env.object else {
        return None;
    };
    if get.property.name != "get" || env.property.name != "env" || deno.name != "Deno" {
        return None;
    }
    call.arguments
        .first()
        .and_then(Argument::as_expression)
        .and_then(literal_text)
}

fn export_name(name: &ModuleExportName<'_>) -> String {
    match name {
        ModuleExportName::IdentifierName(name) => name.name.to_string(),
        ModuleExportName::IdentifierReference(name) => name.name.to_string(),
        ModuleExportName::StringLiteral(name) => name.value.to_string(),
    }
}

fn property_name(key: &PropertyKey<'_>) -> Option<String> {
    match key {
        PropertyKey::StaticIdentifier(identifier) => Some(identifier.name.to_string()),
        PropertyKey::StringLiteral(literal) => Some(literal.value.to_string()),
        _ => None,
    }
}

/// The text of a string literal, or of a template literal without expressions.
fn literal_text(expression: &Expression<'_>) -> Option<String> {
    match expression {
        Expression::StringLiteral(literal) => Some(literal.value.to_string()),
        Expression::TemplateLiteral(template) if template.expressions.is_empty() => template
            .quasis
            .first()
            .and_then(|quasi| quasi.value.cooked.as_ref())
            .map(|cooked| cooked.to_string()),
        _ => None,
    }
}

/// A literal expression as JSON (objects, arrays, strings, numbers, booleans, null, and a
/// negated number); `None` for anything that needs running the code.
fn literal_value(expression: &Expression<'_>) -> Option<Value> {
    match expression {
        Expression::NullLiteral(_) => Some(Value::Null),
        Expression::BooleanLiteral(literal) => Some(Value::Bool(literal.value)),
        Expression::NumericLiteral(literal) => number(literal.value),
        Expression::UnaryExpression(unary)
            if unary.operator == oxc_ast::ast::UnaryOperator::UnaryNegation =>
        {
            match &unary.argument {
                Expression::NumericLiteral(literal) => number(-literal.value),
                _ => None,
            }
        }
        Expression::StringLiteral(_) | Expression::TemplateLiteral(_) => {
            literal_text(expression).map(Value::String)
        }
        Expression::ArrayExpression(array) => array
            .elements
            .iter()
            .map(|element| element.as_expression().and_then(literal_value))
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        Expression::ObjectExpression(object) => {
            let mut map = Map::new();
            for property in &object.properties {
                let ObjectPropertyKind::ObjectProperty(property) = property else {
                    return None;
                };
                if property.computed {
                    return None;
                }
                let key = property_name(&property.key)?;
                map.insert(key, literal_value(&property.value)?);
            }
            Some(Value::Object(map))
        }
        Expression::ParenthesizedExpression(inner) => literal_value(&inner.expression),
        _ => None,
    }
}

/// A JSON number: an integer where the value is one.
fn number(value: f64) -> Option<Value> {
    if value.fract() == 0.0 && value.abs() < 9e15 {
        Some(Value::from(value as i64))
    } else {
        Number::from_f64(value).map(Value::Number)
    }
}
