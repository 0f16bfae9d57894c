/**
 * Reads the Terraform module as data: every .tf file parsed by HashiCorp's own HCL parser
 * (compiled to WebAssembly in @cdktf/hcl2json, so no Terraform binary or provider is
 * needed). Expressions come back as strings of the form "${...}".
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from '@cdktf/hcl2json';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const terraformDir = path.join(repoRoot, 'terraform');

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type Block = Record<string, Json>;

export interface TfFile {
  name: string;
  source: string;
  json: Record<string, Json>;
}

export interface TfModule {
  files: TfFile[];
  /** `type.name` -> the resource's body. */
  resources: Map<string, Block>;
  variables: Map<string, Block>;
  outputs: Map<string, Block>;
  locals: Map<string, Json>;
}

export function tfFileNames(): string[] {
  return readdirSync(terraformDir)
    .filter((f) => f.endsWith('.tf'))
    .sort();
}

export async function parseTfFile(name: string): Promise<TfFile> {
  const source = readFileSync(path.join(terraformDir, name), 'utf8');
  const json = (await parse(name, source)) as Record<string, Json>;
  return { name, source, json };
}

function only(blocks: Json, what: string): Block {
  if (!Array.isArray(blocks) || blocks.length !== 1) throw new Error(`${what} is declared ${Array.isArray(blocks) ? blocks.length : 0} times`);
  return blocks[0] as Block;
}

export async function loadModule(): Promise<TfModule> {
  const files = await Promise.all(tfFileNames().map(parseTfFile));
  const mod: TfModule = { files, resources: new Map(), variables: new Map(), outputs: new Map(), locals: new Map() };
  const add = <T>(map: Map<string, T>, key: string, value: T) => {
    if (map.has(key)) throw new Error(`${key} is declared twice`);
    map.set(key, value);
  };
  for (const { json } of files) {
    for (const [type, byName] of Object.entries((json.resource ?? {}) as Record<string, Record<string, Json>>)) {
      for (const [name, blocks] of Object.entries(byName)) add(mod.resources, `${type}.${name}`, only(blocks, `${type}.${name}`));
    }
    for (const [name, blocks] of Object.entries((json.variable ?? {}) as Record<string, Json>)) add(mod.variables, name, only(blocks, `var.${name}`));
    for (const [name, blocks] of Object.entries((json.output ?? {}) as Record<string, Json>)) add(mod.outputs, name, only(blocks, `output.${name}`));
    for (const block of (json.locals ?? []) as Block[]) {
      for (const [name, value] of Object.entries(block)) add(mod.locals, name, value);
    }
  }
  return mod;
}

/** Every string in a parsed value (attribute values; block and attribute names excluded). */
export function strings(value: Json): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

/** The expression text of the strings that hold Terraform expressions (`$${` escapes removed). */
export function expressions(value: Json): string[] {
  return strings(value)
    .map((s) => s.replace(/\$\$\{/g, ''))
    .filter((s) => s.includes('${'));
}

/** Names used as `<prefix>.<name>` in the module's expressions. */
export function referenced(mod: TfModule, prefix: 'var' | 'local'): Set<string> {
  const names = new Set<string>();
  const pattern = new RegExp(`(?<![\\w.])${prefix}\\.([A-Za-z_][\\w-]*)`, 'g');
  for (const file of mod.files) {
    for (const expr of expressions(file.json)) {
      for (const m of expr.matchAll(pattern)) names.add(m[1] as string);
    }
  }
  return names;
}

/** A resource of the module by address (`type.name`); a missing one fails the test that asked. */
export function resourceOf(mod: TfModule, address: string): Block {
  const r = mod.resources.get(address);
  if (!r) throw new Error(`no resource ${address}`);
  return r;
}

/** A nested attribute: `get(block, 'build_config', 'entry_point')` (blocks are lists of one). */
export function get(block: Json, ...keys: string[]): Json {
  let cur: Json = block;
  for (const key of keys) {
    if (Array.isArray(cur)) cur = cur[0] as Json;
    if (!cur || typeof cur !== 'object' || Array.isArray(cur)) return null;
    cur = (cur as Record<string, Json>)[key] ?? null;
  }
  return Array.isArray(cur) && cur.length === 1 && typeof cur[0] === 'object' ? (cur[0] as Json) : cur;
}

/** Whether a `terraform` binary runs here (the checks that evaluate HCL with it need one). */
export function hasTerraform(): boolean {
  try {
    execFileSync('terraform', ['version'], { stdio: 'ignore', env: { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null' } });
    return true;
  } catch {
    return false;
  }
}
