/**
 * terraform/*.tf against the Google provider's schema (scripts/terraform-schema/check.ts): the
 * real configuration passes; a copy mutated the ways a hand edit goes wrong is refused with the
 * file, the line and the nearest valid names.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTerraform, editDistance, formatFinding, nearest, type Finding } from '../../scripts/terraform-schema/check';
import { parseHcl, type Body } from '../../scripts/terraform-schema/hcl';
import { loadProviderSchema, type ProviderSchemaFile } from '../../scripts/terraform-schema/schema';
import { terraformDir, tfFileNames, type Json } from './terraform-files';

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'tf-schema-test-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let copies = 0;
/** A copy of terraform/ with `from` replaced by `to` in `file`; the line where `to` starts. */
function mutated(file: string, from: string, to: string): { dir: string; line: number } {
  const dir = path.join(scratch, `copy-${++copies}`);
  cpSync(terraformDir, dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}schema`) });
  const source = readFileSync(path.join(dir, file), 'utf8');
  const at = source.indexOf(from);
  if (at < 0 || source.indexOf(from, at + 1) >= 0) throw new Error(`${file}: ${JSON.stringify(from)} must occur exactly once (the configuration changed: update this test)`);
  writeFileSync(path.join(dir, file), source.slice(0, at) + to + source.slice(at + from.length));
  return { dir, line: source.slice(0, at).split('\n').length };
}

/** The line of the first occurrence of `text` in a terraform/ file. */
function lineOf(file: string, text: string): number {
  const source = readFileSync(path.join(terraformDir, file), 'utf8');
  const at = source.indexOf(text);
  if (at < 0) throw new Error(`${file}: no ${JSON.stringify(text)}`);
  return source.slice(0, at).split('\n').length;
}

function only(findings: Finding[]): Finding {
  expect(findings.map(formatFinding)).toHaveLength(1);
  return findings[0] as Finding;
}

describe('terraform/*.tf against the google provider schema', () => {
  it('the configuration has no findings (each printed with its file and line)', () => {
    expect(checkTerraform(terraformDir).map(formatFinding)).toEqual([]);
  });

  it('versions.tf pins each provider to the version of its schema file', () => {
    const versions = readFileSync(path.join(terraformDir, 'versions.tf'), 'utf8');
    for (const provider of ['google', 'google-beta']) {
      const pin = new RegExp(`source\\s*=\\s*"hashicorp/${provider}"\\s*\\n\\s*version\\s*=\\s*"([^"]+)"`).exec(versions)?.[1];
      expect(pin, provider).toBe('6.50.0');
      const schema: ProviderSchemaFile = loadProviderSchema(provider, pin as string);
      expect(schema.version).toBe(pin);
      expect(schema.provider).toBe(`registry.terraform.io/hashicorp/${provider}`);
    }
  });

  const cases: { name: string; file: string; from: string; to: string; message: RegExp; line?: (l: number) => number; alsoReferences?: boolean }[] = [
    { name: 'an unknown attribute', file: 'functions.tf', from: 'entry_point     = each', to: 'entrypoint      = each', message: /build_config: unknown argument "entrypoint"; nearest: "entry_point"/ },
    {
      name: 'an unknown resource type',
      file: 'storage.tf',
      from: 'resource "google_storage_bucket" "blobs"',
      to: 'resource "google_storage_buckets" "blobs"',
      message: /unknown resource type "google_storage_buckets" in google 6\.50\.0; nearest: "google_storage_bucket"/,
      // Its references elsewhere then name an undeclared google_storage_bucket.blobs.
      alsoReferences: true,
    },
    {
      name: 'a required argument removed',
      file: 'functions.tf',
      from: '  location    = var.region\n',
      to: '',
      message: /google_cloudfunctions2_function\.fn: required argument "location" is missing/,
      line: () => lineOf('functions.tf', 'resource "google_cloudfunctions2_function" "fn"'),
    },
    {
      name: 'a required argument removed inside a dynamic block',
      file: 'internal_lb.tf',
      from: '        priority = route_rules.key + 1\n',
      to: '',
      message: /path_matcher\.route_rules: required argument "priority" is missing/,
      line: () => lineOf('internal_lb.tf', 'dynamic "route_rules"'),
    },
    {
      name: 'a block at the wrong depth',
      file: 'functions.tf',
      from: '    source {\n      storage_source {',
      to: '    storage_source {\n      source {',
      message: /build_config: unknown block "storage_source"; valid at build_config\.source\.storage_source/,
    },
    { name: 'a block written as an attribute', file: 'functions.tf', from: '  service_config {', to: '  service_config = {', message: /"service_config" is a block: write service_config \{ \.\.\. \}/ },
    { name: 'a string where a number goes', file: 'functions.tf', from: 'min_instance_count               = 0', to: 'min_instance_count               = "none"', message: /service_config\.min_instance_count: wants number, not a string literal/ },
    { name: 'a string where a bool goes', file: 'functions.tf', from: 'all_traffic_on_latest_revision   = true', to: 'all_traffic_on_latest_revision   = "yes"', message: /all_traffic_on_latest_revision: wants bool, not a string literal/ },
    { name: 'a list where a string goes', file: 'functions.tf', from: 'runtime         = "nodejs24"', to: 'runtime         = ["nodejs24"]', message: /build_config\.runtime: wants string, not a tuple literal/ },
    { name: 'a list element of the wrong type', file: 'monitoring.tf', from: 'group_by_fields      = ["metric.label.scope"]', to: 'group_by_fields      = [["metric.label.scope"]]', message: /group_by_fields: element 1: wants string, not a tuple literal/ },
    { name: 'a map value of the wrong type, in a multi-line object', file: 'monitoring.tf', from: '    email_address = var.alert_email\n', to: '    email_address = var.alert_email\n    other         = ["x"]\n', message: /labels: key other: wants string, not a tuple literal/, line: (l) => l - 1 },
    { name: 'a reference to an attribute that does not exist', file: 'functions.tf', from: 'bucket = google_storage_bucket.source.name', to: 'bucket = google_storage_bucket.source.nmae', message: /google_storage_bucket\.source\.nmae: google_storage_bucket has no attribute "nmae"; nearest: "name"/ },
    { name: 'a reference into a block that lacks the attribute', file: 'functions.tf', from: 'f.service_config[0].uri }', to: 'f.service_config[0].uri }\n  wrong = google_cloudfunctions2_function.fn["x"].service_config[0].url', message: /block "service_config" has no attribute "url"; nearest: "uri"/, line: (l) => l + 1 },
    { name: 'a reference to an undeclared resource', file: 'functions.tf', from: 'bucket = google_storage_bucket.source.name', to: 'bucket = google_storage_bucket.sources.name', message: /reference to google_storage_bucket\.sources, which is not declared; nearest: "google_storage_bucket\.source"/ },
    { name: 'a for_each resource referenced without an instance', file: 'functions.tf', from: 'google_service_account.runtime[each.value.audience].email', to: 'google_service_account.runtime.email', message: /google_service_account\.runtime has count or for_each: name an instance/ },
    { name: 'an index into a resource without count or for_each', file: 'functions.tf', from: 'bucket = google_storage_bucket.source.name', to: 'bucket = google_storage_bucket.source[0].name', message: /google_storage_bucket\.source has neither count nor for_each/ },
    { name: 'a read-only attribute set', file: 'functions.tf', from: '  location    = var.region\n', to: '  location    = var.region\n  state       = "ACTIVE"\n', message: /"state" is read-only/, line: (l) => l + 1 },
    { name: 'two blocks where at most one goes', file: 'functions.tf', from: '  service_config {', to: '  service_config {\n  }\n  service_config {', message: /at most 1 "service_config" block, found 2/ },
    { name: 'a google-beta-only argument on a google resource', file: 'internal_lb.tf', from: '  provider = google-beta\n  for_each = { for name, f in local.boot_functions', to: '  for_each = { for name, f in local.boot_functions', message: /unknown argument "security_policy"; it exists only in google-beta: add provider = google-beta/, line: () => lineOf('internal_lb.tf', '  security_policy ') - 1 },
    { name: 'an unknown lifecycle argument', file: 'api_gateway.tf', from: 'create_before_destroy = true', to: 'create_before_destroi = true', message: /lifecycle: unknown argument "create_before_destroi"; nearest: "create_before_destroy"/ },
    { name: 'a provider version that is a range', file: 'versions.tf', from: 'version = "6.50.0"\n    }\n    # API', to: 'version = ">= 6.10.0"\n    }\n    # API', message: /provider google: version must be pinned exactly/ },
    { name: 'a provider version with no schema file', file: 'versions.tf', from: 'version = "6.50.0"\n    }\n    # API', to: 'version = "6.49.0"\n    }\n    # API', message: /provider google 6\.49\.0: no schema file/ },
  ];

  it.each(cases)('refuses $name, with its file and line', ({ file, from, to, message, line, alsoReferences }) => {
    const { dir, line: at } = mutated(file, from, to);
    const findings = checkTerraform(dir);
    const finding = alsoReferences ? (findings.find((f) => f.file.endsWith(file)) as Finding) : only(findings);
    if (alsoReferences) expect(findings.filter((f) => f !== finding).every((f) => /^reference to .*, which is not declared/.test(f.message))).toBe(true);
    expect(finding.message).toMatch(message);
    expect(finding.file).toBe(path.join(path.basename(dir), file));
    expect(finding.line).toBe(line ? line(at) : at);
  });
});

describe('the HCL reader the check uses', () => {
  /** Names at each level of hcl2json's output for resources and data sources (blocks are arrays of objects). */
  function hcl2jsonNames(value: Json, prefix: string, out: string[]): void {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return;
    for (const [key, v] of Object.entries(value)) {
      if (key === 'dynamic' && v && typeof v === 'object' && !Array.isArray(v)) {
        for (const [name, blocks] of Object.entries(v)) for (const b of blocks as Json[]) hcl2jsonNames(get(b, 'content'), `${prefix}${name}.`, out);
        continue;
      }
      out.push(`${prefix}${key}`);
      if (Array.isArray(v) && v.every((b) => b && typeof b === 'object' && !Array.isArray(b))) for (const b of v) hcl2jsonNames(b, `${prefix}${key}.`, out);
    }
  }
  function get(value: Json, key: string): Json {
    const v = (value as Record<string, Json>)[key];
    return Array.isArray(v) ? (v[0] as Json) : (v ?? null);
  }
  function ownNames(body: Body, prefix: string, out: string[], blockish: Set<string>): void {
    for (const a of body.attributes) out.push(`${prefix}${a.name}`);
    for (const b of body.blocks) {
      const name = b.type === 'dynamic' ? (b.labels[0] as string) : b.type;
      const content = b.type === 'dynamic' ? b.body.blocks.find((c) => c.type === 'content')?.body : b.body;
      if (b.type !== 'dynamic') out.push(`${prefix}${name}`);
      blockish.add(`${prefix}${name}`);
      if (content) ownNames(content, `${prefix}${name}.`, out, blockish);
    }
  }

  it.each(tfFileNames())('%s: the same resources, attributes and blocks as hcl2json reads', async (file) => {
    const source = readFileSync(path.join(terraformDir, file), 'utf8');
    const theirs: string[] = [];
    const json = (await parse(file, source)) as Record<string, Record<string, Record<string, Json[]>>>;
    for (const kind of ['resource', 'data'] as const) {
      for (const [type, byName] of Object.entries(json[kind] ?? {})) {
        for (const [name, [body]] of Object.entries(byName)) hcl2jsonNames(body as Json, `${kind}.${type}.${name}.`, theirs);
      }
    }
    const ours: string[] = [];
    const blockish = new Set<string>();
    for (const block of parseHcl(file, source).blocks) {
      if (block.type === 'resource' || block.type === 'data') ownNames(block.body, `${block.type}.${block.labels.join('.')}.`, ours, blockish);
    }
    // hcl2json reads an attribute holding a list of objects like a block; ours tells them apart.
    const attributeObjects = theirs.filter((n) => !ours.includes(n));
    expect(attributeObjects.every((n) => ours.some((o) => n.startsWith(`${o}.`) && !blockish.has(o)))).toBe(true);
    expect(ours.filter((n) => !theirs.includes(n))).toEqual([]);
  });

  it('keeps line numbers through comments, heredocs and multi-line expressions', () => {
    const body = parseHcl(
      'x.tf',
      ['# a comment', 'locals {', '  a = <<-EOT', '    text ${var.b}', '  EOT', '  /* two', '  lines */', '  c = [', '    1,', '  ]', '  d = "x${join("}", [])}y"', '}', 'resource "t" "n" { e = 1 }'].join('\n'),
    );
    const locals = body.blocks[0] as { body: Body; line: number };
    expect(locals.line).toBe(2);
    expect(locals.body.attributes.map((a) => [a.name, a.line])).toEqual([
      ['a', 3],
      ['c', 8],
      ['d', 11],
    ]);
    expect(body.blocks[1]?.line).toBe(13);
    expect(body.blocks[1]?.body.attributes[0]?.name).toBe('e');
  });

  it('refuses what is not HCL, with the line', () => {
    expect(() => parseHcl('x.tf', 'locals {\n  a = 1\n')).toThrow(/x\.tf:\d+: a block is not closed/);
    expect(() => parseHcl('x.tf', 'a = "open\n')).toThrow(/x\.tf:1: unterminated string/);
  });
});

describe('nearest names', () => {
  it('ranks by edit distance', () => {
    expect(editDistance('entrypoint', 'entry_point')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(nearest('entrypoint', ['entry_point', 'runtime', 'source', 'worker_pool'])).toBe('; nearest: "entry_point", "runtime", "source"');
  });
});

describe('the extracted schema', () => {
  it('carries what the provider documents for a known resource', () => {
    const google = loadProviderSchema('google', '6.50.0');
    const fn = google.resource_schemas.google_cloudfunctions2_function?.block;
    expect(fn?.attributes?.location).toEqual({ type: 'string', required: true });
    expect(fn?.attributes?.state).toEqual({ type: 'string', computed: true });
    expect(fn?.block_types?.build_config).toMatchObject({ nesting_mode: 'list', max_items: 1 });
    expect(fn?.block_types?.event_trigger?.block.block_types?.event_filters).toMatchObject({ nesting_mode: 'set' });
    const policy = google.resource_schemas.google_monitoring_alert_policy?.block;
    expect(policy?.block_types?.conditions).toMatchObject({ nesting_mode: 'list', min_items: 1 });
    expect(Object.keys(google.resource_schemas).length).toBeGreaterThan(1000);
    expect(Object.keys(google.data_source_schemas).length).toBeGreaterThan(300);
    expect(google.provider_schema.block.attributes?.project).toEqual({ type: 'string', optional: true });
  });
});
